package org.divrank.opensearch;

import org.apache.lucene.search.TotalHits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.opensearch.OpenSearchException;
import org.opensearch.OpenSearchStatusException;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.action.search.SearchResponse;
import org.opensearch.action.search.SearchResponseSections;
import org.opensearch.action.search.ShardSearchFailure;
import org.opensearch.common.document.DocumentField;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.common.bytes.BytesArray;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.core.index.shard.ShardId;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.core.xcontent.ToXContent;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.index.query.QueryBuilders;
import org.opensearch.search.SearchExtBuilder;
import org.opensearch.search.SearchHit;
import org.opensearch.search.SearchHits;
import org.opensearch.search.SearchShardTarget;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.search.fetch.subphase.FetchSourceContext;
import org.opensearch.search.pipeline.PipelineProcessingContext;

import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.net.URI;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DivrankResponseProcessorTests {

    private StubSidecar stub;
    private DivrankStats stats;
    private String token;
    private org.opensearch.common.settings.Settings nodeSettings = org.opensearch.common.settings.Settings.EMPTY;
    private SidecarConnections connections;
    /** The engine reads of a lean window; the node's client in production. */
    private FakePages pages = new FakePages();
    /** Runs the sidecar call's completion; the node's generic pool in production. */
    private Executor executor = Runnable::run;
    /** Aborts calls at their deadline; the node's scheduler in production. */
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    private final DeadlineTimer timer = (delayMs, abort) -> {
        ScheduledFuture<?> scheduled = scheduler.schedule(abort, delayMs, TimeUnit.MILLISECONDS);
        return () -> scheduled.cancel(false);
    };

    @BeforeEach
    void start() throws Exception {
        stub = new StubSidecar();
        stats = new DivrankStats();
        token = null;
        connections = new SidecarConnections();
    }

    @AfterEach
    void stop() {
        stub.close();
        connections.close();
        scheduler.shutdownNow();
    }

    // ---- fixtures ---------------------------------------------------------------------------

    private DivrankResponseProcessor processor(Map<String, Object> overrides) throws Exception {
        Map<String, Object> config = new HashMap<>();
        config.put("sidecar_url", stub.url().toString());
        config.put("connect_timeout_ms", 200);
        config.put("read_timeout_ms", 300);
        config.putAll(overrides);
        DivrankResponseProcessor.Factory factory = new DivrankResponseProcessor.Factory(
            connections::forConnectTimeout,
            () -> token,
            stats,
            null,
            SidecarPolicy.of(nodeSettings),
            executor,
            timer,
            pages
        );
        return factory.create(Map.of(), "divrank-test", null, false, config, null);
    }

    private static SearchHit hit(int i, boolean withEmbedding) {
        SearchHit hit = new SearchHit(i, "d" + i, Map.of(), Map.of());
        String embedding = withEmbedding ? ",\"embedding\":[" + i + ".0,1.0,0.5]" : "";
        hit.sourceRef(
            new BytesArray(
                "{\"title\":\"item " + i + "\",\"category\":\"printing/toner\",\"brand\":\"b" + (i % 3) + "\",\"price\":" + (10 + i) + ".5"
                    + embedding + "}"
            )
        );
        hit.score(1000f - i);
        hit.shard(new SearchShardTarget("node-1", new ShardId("products-1", "uuid", 0), null, null));
        return hit;
    }

    private static SearchResponse response(int n, List<SearchExtBuilder> exts) {
        SearchHit[] hits = new SearchHit[n];
        for (int i = 0; i < n; i++) {
            hits[i] = hit(i, true);
        }
        SearchHits searchHits = new SearchHits(hits, new TotalHits(1234, TotalHits.Relation.EQUAL_TO), 1000f);
        SearchResponseSections sections = new SearchResponseSections(searchHits, null, null, false, null, null, 1, exts);
        return new SearchResponse(sections, null, 1, 1, 0, 7, ShardSearchFailure.EMPTY_ARRAY, SearchResponse.Clusters.EMPTY);
    }

    /** Runs the request processor and then the response processor, as the pipeline does. */
    private record Run(SearchResponse response, Exception failure, long elapsedMs, Map<String, Object> context) {}

    private Run run(DivrankResponseProcessor processor, SearchSourceBuilder source, int windowHits) throws Exception {
        SearchRequest request = new SearchRequest("products").source(source);
        PipelineProcessingContext context = new PipelineProcessingContext();
        WindowProcessors.window(100).processRequest(request, context);
        CompletableFuture<SearchResponse> done = new CompletableFuture<>();
        long start = System.nanoTime();
        processor.processResponseAsync(
            request,
            response(Math.min(windowHits, request.source().size()), new ArrayList<>()),
            context,
            ActionListener.wrap(done::complete, done::completeExceptionally)
        );
        try {
            SearchResponse out = done.get(10, TimeUnit.SECONDS);
            return new Run(out, null, (System.nanoTime() - start) / 1_000_000, context.getAttributes());
        } catch (ExecutionException e) {
            return new Run(null, (Exception) e.getCause(), (System.nanoTime() - start) / 1_000_000, context.getAttributes());
        }
    }

    private static List<String> ids(SearchResponse response) {
        List<String> ids = new ArrayList<>();
        for (SearchHit hit : response.getHits().getHits()) {
            ids.add(hit.getId());
        }
        return ids;
    }

    private static List<String> range(int from, int to, boolean reversed, int n) {
        List<String> ids = new ArrayList<>();
        for (int i = from; i < to; i++) {
            ids.add("d" + (reversed ? n - 1 - i : i));
        }
        return ids;
    }

    private static DivrankResponseExt ext(SearchResponse response) {
        DivrankResponseExt ext = DivrankResponseExt.find(response.getInternalResponse().getSearchExtBuilders());
        assertNotNull(ext, "ext.divrank missing");
        return ext;
    }

    // ---- ordering, trimming, pagination --------------------------------------------------------

    @Test
    @SuppressWarnings("unchecked")
    void appliesTheSidecarOrderAndCutsThePage() throws Exception {
        SearchSourceBuilder source = new SearchSourceBuilder().query(QueryBuilders.matchQuery("title", "hp toner")).size(10);
        Run run = run(processor(Map.of()), source, 30);
        assertNull(run.failure);
        assertEquals(range(0, 10, true, 30), ids(run.response));
        DivrankResponseExt ext = ext(run.response);
        assertTrue(ext.applied());
        assertFalse(ext.degraded());
        assertEquals("fusion", ext.strategy());
        assertEquals("stub-1", ext.modelVersion());
        assertEquals(30, ext.window());
        // what the sidecar saw: the whole window in engine order, features from _source
        Map<String, Object> body = stub.lastBody;
        assertEquals(range(0, 30, false, 30), StubSidecar.candidateIds(body));
        assertEquals(10, body.get("k"), "ranked up to the end of the page; the rest is never shown");
        assertEquals(10, body.get("page_size"));
        assertEquals("hp toner", body.get("query"));
        assertEquals("products-1", body.get("index"));
        assertNull(body.get("user"));
        Map<String, Object> first = (Map<String, Object>) ((List<Object>) body.get("candidates")).get(0);
        assertEquals(List.of(0.0, 1.0, 0.5), first.get("embedding"));
        assertEquals("printing/toner", first.get("category"));
        assertEquals("b0", first.get("brand"));
        assertEquals(10.5, first.get("price"));
        assertEquals("item 0", first.get("title"));
        assertEquals(1000.0, ((Number) first.get("score")).doubleValue());
        Map<String, Object> knobs = (Map<String, Object>) body.get("knobs");
        assertEquals(ProcessorConfig.DEFAULT_DIVERSITY_VALUE, knobs.get("diversity"));
        assertEquals("fusion", knobs.get("strategy"));
        assertEquals(false, knobs.get("explain"));
        assertFalse(knobs.containsKey("relevance_model")); // the sidecar's default decides
        assertEquals(1, stats.reranked());
    }

    @Test
    @SuppressWarnings("unchecked")
    void sendsTheTitleFromTheConfiguredField() throws Exception {
        run(processor(Map.of("title_field", "brand")), new SearchSourceBuilder().size(10), 30);
        Map<String, Object> first = (Map<String, Object>) ((List<Object>) stub.lastBody.get("candidates")).get(0);
        assertEquals("b0", first.get("title"));
        // a dotted path takes the map path; a hit without that field sends no title, the rest as before
        run(processor(Map.of("title_field", "meta.title")), new SearchSourceBuilder().size(10), 30);
        first = (Map<String, Object>) ((List<Object>) stub.lastBody.get("candidates")).get(0);
        assertFalse(first.containsKey("title"));
        assertEquals("b0", first.get("brand"));
    }

    /** Runs a window of hits with these sources through the response processor alone. */
    private List<Map<String, Object>> sentCandidates(DivrankResponseProcessor processor, String... sources) throws Exception {
        SearchHit[] hits = new SearchHit[sources.length];
        for (int i = 0; i < sources.length; i++) {
            hits[i] = new SearchHit(i, "d" + i, Map.of(), Map.of());
            hits[i].sourceRef(new BytesArray(sources[i]));
            hits[i].score(100f - i);
        }
        SearchHits searchHits = new SearchHits(hits, new TotalHits(hits.length, TotalHits.Relation.EQUAL_TO), 100f);
        SearchResponse response = new SearchResponse(
            new SearchResponseSections(searchHits, null, null, false, null, null, 1),
            null, 1, 1, 0, 3, ShardSearchFailure.EMPTY_ARRAY, SearchResponse.Clusters.EMPTY
        );
        SearchRequest request = new SearchRequest("products").source(new SearchSourceBuilder().size(sources.length));
        CompletableFuture<SearchResponse> done = new CompletableFuture<>();
        processor.processResponseAsync(request, response, null, ActionListener.wrap(done::complete, done::completeExceptionally));
        assertTrue(ext(done.get(10, TimeUnit.SECONDS)).applied());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> candidates = (List<Map<String, Object>>) stub.lastBody.get("candidates");
        return candidates;
    }

    @Test
    void sendsTheTitleFromADottedPath() throws Exception {
        DivrankResponseProcessor processor = processor(Map.of("title_field", "meta.title"));
        assertEquals("meta.title", processor.config().fields().title());
        List<Map<String, Object>> sent = sentCandidates(
            processor,
            "{\"meta\":{\"title\":\"HP 64 black ink\"},\"brand\":\"hp\"}",
            "{\"meta\":{\"title\":[\"first listed\",\"second\"]}}",
            "{\"meta\":{\"title\":42},\"title\":\"top-level, not the configured field\"}",
            "{\"meta\":{}}"
        );
        assertEquals("HP 64 black ink", sent.get(0).get("title"));
        assertEquals("hp", sent.get(0).get("brand"));
        assertEquals("first listed", sent.get(1).get("title"));
        assertFalse(sent.get(2).containsKey("title"), "a number is not a title");
        assertFalse(sent.get(3).containsKey("title"));
    }

    @Test
    void longTitlesAreCutTo512Chars() throws Exception {
        String longTitle = "t".repeat(600);
        // top-level field: the raw-source scan; dotted path: the map path; both cut the same way
        List<Map<String, Object>> scanned = sentCandidates(processor(Map.of()), "{\"title\":\"" + longTitle + "\"}", "{\"title\":\"\"}");
        assertEquals("t".repeat(CandidateFields.MAX_TITLE_CHARS), scanned.get(0).get("title"));
        assertFalse(scanned.get(1).containsKey("title"), "an empty title is not sent");
        List<Map<String, Object>> mapped = sentCandidates(
            processor(Map.of("title_field", "meta.title")),
            "{\"meta\":{\"title\":\"" + longTitle + "\"}}"
        );
        assertEquals(512, ((String) mapped.get(0).get("title")).length());
    }

    @Test
    void twoPagesHaveNoDuplicatesOrGaps() throws Exception {
        DivrankResponseProcessor processor = processor(Map.of());
        Run page1 = run(processor, new SearchSourceBuilder().from(0).size(10), 100);
        assertEquals(List.of(10, 10), List.of(stub.lastBody.get("k"), stub.lastBody.get("page_size")));
        Run page2 = run(processor, new SearchSourceBuilder().from(10).size(10), 100);
        // page 2 asks for the first 20 picks counted per page of 10: its first 10 are page 1's
        assertEquals(List.of(20, 10), List.of(stub.lastBody.get("k"), stub.lastBody.get("page_size")));
        List<String> both = new ArrayList<>(ids(page1.response));
        both.addAll(ids(page2.response));
        assertEquals(20, new HashSet<>(both).size());
        assertEquals(range(0, 20, true, 100), both);
    }

    @Test
    void lastPageOfAShortWindowIsPartialAndBeyondItIsEmpty() throws Exception {
        DivrankResponseProcessor processor = processor(Map.of());
        Run partial = run(processor, new SearchSourceBuilder().from(20).size(10), 25);
        assertEquals(range(20, 25, true, 25), ids(partial.response));
        Run empty = run(processor, new SearchSourceBuilder().from(30).size(10), 25);
        assertEquals(List.of(), ids(empty.response));
        assertEquals(1234, empty.response.getHits().getTotalHits().value());
    }

    @Test
    void idsTheSidecarLeavesOutFollowInEngineOrder() throws Exception {
        stub.script(body -> new StubSidecar.Reply(200, "{\"ids\":[\"d5\",\"d3\"],\"scores\":[0.9,0.8],\"strategy\":\"mmr\"}", 0));
        Run run = run(processor(Map.of()), new SearchSourceBuilder().size(6), 10);
        assertEquals(List.of("d5", "d3", "d0", "d1", "d2", "d4"), ids(run.response));
        assertEquals("mmr", ext(run.response).strategy());
    }

    @Test
    @SuppressWarnings("unchecked")
    void extKnobsAndUserReachTheSidecar() throws Exception {
        DivrankSearchExt ext = new DivrankSearchExt("u42", 0.0, Strategy.DPP, true, List.of("d7"), null, 2, null, false);
        Run run = run(processor(Map.of()), new SearchSourceBuilder().size(5).ext(List.of(ext)), 20);
        assertNull(run.failure);
        Map<String, Object> body = stub.lastBody;
        Map<String, Object> user = (Map<String, Object>) body.get("user");
        assertEquals("u42", user.get("id"));
        assertEquals(List.of("d7"), ((Map<String, Object>) user.get("history")).get("item_ids"));
        Map<String, Object> knobs = (Map<String, Object>) body.get("knobs");
        assertEquals(0.0, knobs.get("diversity"));
        assertEquals("dpp", knobs.get("strategy"));
        assertEquals(true, knobs.get("explain"));
        assertEquals(2, knobs.get("max_per_brand"));
        assertEquals(false, knobs.get("relevance_model"));
        assertEquals(0.0, ext(run.response).diversity());
    }

    // ---- _source shaping and explanations ----------------------------------------------------

    @Test
    void stripsTheEmbeddingUnlessAskedFor() throws Exception {
        DivrankResponseProcessor processor = processor(Map.of());
        Run plain = run(processor, new SearchSourceBuilder().size(3), 10);
        for (SearchHit hit : plain.response.getHits().getHits()) {
            Map<String, Object> source = hit.getSourceAsMap();
            assertFalse(source.containsKey("embedding"));
            assertTrue(source.containsKey("title"));
        }
        // the request processor widened the caller's filter; the sidecar still got the vectors
        Run asked = run(processor, new SearchSourceBuilder().size(3).fetchSource(new String[] { "title", "embedding" }, null), 10);
        assertTrue(((Map<?, ?>) ((List<?>) stub.lastBody.get("candidates")).get(0)).containsKey("embedding"));
        for (SearchHit hit : asked.response.getHits().getHits()) {
            assertEquals(Set.of("title", "embedding"), hit.getSourceAsMap().keySet());
        }
        Run titleOnly = run(processor, new SearchSourceBuilder().size(3).fetchSource(new String[] { "title" }, null), 10);
        assertEquals(Set.of("title"), titleOnly.response.getHits().getHits()[0].getSourceAsMap().keySet());
        Run none = run(processor, new SearchSourceBuilder().size(3).fetchSource(false), 10);
        assertFalse(none.response.getHits().getHits()[0].hasSource());
    }

    @Test
    @SuppressWarnings("unchecked")
    void explanationsGoToFieldsWhenAsked() throws Exception {
        DivrankSearchExt ext = new DivrankSearchExt(null, null, null, true, null, null, null, null, null);
        Run run = run(processor(Map.of()), new SearchSourceBuilder().size(2).ext(List.of(ext)), 10);
        SearchHit top = run.response.getHits().getHits()[0];
        assertEquals("d9", top.getId());
        Map<String, Object> explanation = (Map<String, Object>) top.field(DivrankResponseProcessor.EXPLANATION_FIELD).getValue();
        assertEquals(1.0, explanation.get("fused"));
        assertEquals(Map.of("relevance", 1.0), explanation.get("terms"));
        assertEquals(991.0f, explanation.get("engine_score"));
        assertEquals(0, explanation.get("rank"));
        assertFalse(explanation.containsKey("id"));
        Run quiet = run(processor(Map.of()), new SearchSourceBuilder().size(2), 10);
        assertNull(quiet.response.getHits().getHits()[0].field(DivrankResponseProcessor.EXPLANATION_FIELD));
    }

    // ---- fail-open ------------------------------------------------------------------------

    private void assertDegraded(Run run, String reason, int size) {
        assertNull(run.failure, () -> "unexpected failure " + run.failure);
        assertEquals(range(0, size, false, size), ids(run.response), reason);
        DivrankResponseExt ext = ext(run.response);
        assertTrue(ext.degraded(), reason);
        assertFalse(ext.applied(), reason);
        assertEquals(reason, ext.reason());
        for (SearchHit hit : run.response.getHits().getHits()) {
            assertFalse(hit.getSourceAsMap().containsKey("embedding"));
        }
    }

    @Test
    void statsTimeTheProcessorAndTheSidecarCall() throws Exception {
        assertEquals(0.0, stats.processorMeanMs());
        stub.script(body -> {
            StubSidecar.Reply reply = StubSidecar.reverse(body);
            return new StubSidecar.Reply(reply.status(), reply.body(), 30);
        });
        Run run = run(processor(Map.of()), new SearchSourceBuilder().size(10), 50);
        assertTrue(ext(run.response).applied());
        assertTrue(stats.sidecarMeanMs() >= 30, "sidecar " + stats.sidecarMeanMs());
        assertTrue(stats.processorMeanMs() >= stats.sidecarMeanMs(), stats.processorMeanMs() + " < " + stats.sidecarMeanMs());
    }

    @Test
    void lateSidecarFallsBackWithinTheTimeout() throws Exception {
        stub.script(body -> new StubSidecar.Reply(200, "{\"ids\":[]}", 3000));
        Run run = run(processor(Map.of()), new SearchSourceBuilder().size(10), 50);
        assertDegraded(run, "sidecar_timeout", 10);
        assertTrue(run.elapsedMs < 1500, "took " + run.elapsedMs + " ms with a 200+300 ms budget");
        assertEquals(1, stats.degradedFor("sidecar_timeout"));
    }

    @Test
    void downSidecarFallsBack() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Run run = run(processor(Map.of("sidecar_url", "http://127.0.0.1:" + port)), new SearchSourceBuilder().size(10), 50);
        assertDegraded(run, "sidecar_unreachable", 10);
        assertEquals(1, stats.degraded());
    }

    @Test
    void garbageAndErrorsFallBack() throws Exception {
        Map<String, StubSidecar.Reply> cases = Map.of(
            "sidecar_bad_reply", new StubSidecar.Reply(200, "<html>oops</html>", 0),
            "sidecar_http_500", new StubSidecar.Reply(500, "{\"detail\":\"boom\"}", 0),
            "sidecar_http_422", new StubSidecar.Reply(422, "{\"detail\":[]}", 0)
        );
        DivrankResponseProcessor processor = processor(Map.of());
        for (Map.Entry<String, StubSidecar.Reply> c : cases.entrySet()) {
            stub.script(body -> c.getValue());
            assertDegraded(run(processor, new SearchSourceBuilder().size(5), 20), c.getKey(), 5);
        }
        List<String> contractBreaks = List.of(
            "{\"ids\":[\"d1\",\"d1\"]}",
            "{\"ids\":[\"nope\"]}",
            "{\"ids\":\"d1\"}",
            "{\"ids\":[\"d1\"],\"scores\":[1,2]}",
            "{\"ids\":[1]}",
            "[]"
        );
        for (String body : contractBreaks) {
            stub.script(b -> new StubSidecar.Reply(200, body, 0));
            assertDegraded(run(processor, new SearchSourceBuilder().size(5), 20), "sidecar_bad_reply", 5);
        }
        assertEquals(3 + contractBreaks.size(), stats.degraded());
    }

    @Test
    void failClosedAnswersAClearError() throws Exception {
        stub.script(body -> new StubSidecar.Reply(200, "{}", 2000));
        Run run = run(processor(Map.of("fail_open", false)), new SearchSourceBuilder().size(10), 50);
        assertNull(run.response);
        OpenSearchStatusException e = assertInstanceOf(OpenSearchStatusException.class, run.failure);
        assertEquals(RestStatus.SERVICE_UNAVAILABLE, e.status());
        assertTrue(e.getMessage().contains("sidecar_timeout"), e.getMessage());
        assertTrue(e.getMessage().contains("fail_open"), e.getMessage());
        assertEquals(1, stats.failed());
        stub.script(body -> new StubSidecar.Reply(503, "{}", 0));
        Run bad = run(processor(Map.of("fail_open", false)), new SearchSourceBuilder().size(10), 50);
        assertEquals(RestStatus.BAD_GATEWAY, ((OpenSearchStatusException) bad.failure).status());
    }

    // ---- pass-through and response integrity -------------------------------------------------

    @Test
    void pageBeyondTheWindowPassesThroughUntouched() throws Exception {
        SearchSourceBuilder source = new SearchSourceBuilder().from(150).size(10);
        Run run = run(processor(Map.of()), source, 10);
        assertEquals(range(0, 10, false, 10), ids(run.response));
        DivrankResponseExt ext = ext(run.response);
        assertFalse(ext.applied());
        assertFalse(ext.degraded());
        assertEquals("page_beyond_window", ext.reason());
        assertEquals(0, stub.calls.get());
    }

    @Test
    void rebuildKeepsEverythingButThePage() throws Exception {
        SearchExtBuilder other = new OtherExt();
        SearchResponse original = response(20, List.of(other));
        SearchRequest request = new SearchRequest("products").source(new SearchSourceBuilder().size(5));
        PipelineProcessingContext context = new PipelineProcessingContext();
        WindowProcessors.window(20).processRequest(request, context);
        CompletableFuture<SearchResponse> done = new CompletableFuture<>();
        processor(Map.of()).processResponseAsync(request, original, context, ActionListener.wrap(done::complete, done::completeExceptionally));
        SearchResponse out = done.get(10, TimeUnit.SECONDS);
        assertEquals(original.getTook(), out.getTook());
        assertEquals(1234, out.getHits().getTotalHits().value());
        assertEquals(1000f, out.getHits().getMaxScore());
        assertEquals(original.getTotalShards(), out.getTotalShards());
        assertTrue(out.getInternalResponse().getSearchExtBuilders().contains(other));
        Map<String, Object> before = json(original);
        Map<String, Object> after = json(out);
        before.remove("hits");
        after.remove("hits");
        assertEquals(Map.of("other", "kept"), before.remove("ext"));
        Map<?, ?> ext = (Map<?, ?>) after.remove("ext");
        assertEquals("kept", ext.get("other"));
        assertEquals(true, ((Map<?, ?>) ext.get("divrank")).get("applied"));
        assertEquals(before, after);
    }

    /** Another plugin's response ext, which must survive the rebuild. */
    private static final class OtherExt extends SearchExtBuilder {
        @Override
        public String getWriteableName() {
            return "other";
        }

        @Override
        public void writeTo(org.opensearch.core.common.io.stream.StreamOutput out) {}

        @Override
        public XContentBuilder toXContent(XContentBuilder builder, Params params) throws java.io.IOException {
            return builder.field("other", "kept");
        }

        @Override
        public boolean equals(Object obj) {
            return obj instanceof OtherExt;
        }

        @Override
        public int hashCode() {
            return 1;
        }
    }

    private static Map<String, Object> json(SearchResponse response) throws Exception {
        XContentBuilder builder = JsonXContent.contentBuilder();
        response.toXContent(builder, ToXContent.EMPTY_PARAMS);
        return new HashMap<>(
            org.opensearch.common.xcontent.XContentHelper.convertToMap(BytesReference.bytes(builder), false, builder.contentType()).v2()
        );
    }

    @Test
    void sendsTheKeystoreTokenAsBearer() throws Exception {
        token = "s3cret";
        run(processor(Map.of()), new SearchSourceBuilder().size(2), 5);
        assertEquals("Bearer s3cret", stub.lastAuthorization);
        token = null;
        run(processor(Map.of()), new SearchSourceBuilder().size(2), 5);
        assertNull(stub.lastAuthorization);
    }

    @Test
    void hitsWithoutEmbeddingAreSentWithoutOne() throws Exception {
        SearchHit[] hits = { hit(0, false), hit(1, true) };
        SearchHits searchHits = new SearchHits(hits, new TotalHits(2, TotalHits.Relation.EQUAL_TO), 1000f);
        SearchResponse response = new SearchResponse(
            new SearchResponseSections(searchHits, null, null, false, null, null, 1),
            null, 1, 1, 0, 3, ShardSearchFailure.EMPTY_ARRAY, SearchResponse.Clusters.EMPTY
        );
        SearchRequest request = new SearchRequest("products").source(new SearchSourceBuilder().size(2));
        PipelineProcessingContext context = new PipelineProcessingContext();
        WindowProcessors.window(10).processRequest(request, context);
        CompletableFuture<SearchResponse> done = new CompletableFuture<>();
        processor(Map.of()).processResponseAsync(request, response, context, ActionListener.wrap(done::complete, done::completeExceptionally));
        assertEquals(List.of("d1", "d0"), ids(done.get(10, TimeUnit.SECONDS)));
        List<?> candidates = (List<?>) stub.lastBody.get("candidates");
        assertFalse(((Map<?, ?>) candidates.get(0)).containsKey("embedding"));
        assertTrue(((Map<?, ?>) candidates.get(1)).containsKey("embedding"));
    }

    @Test
    void embeddingsCanStayHome() throws Exception {
        Run run = run(processor(Map.of("send_embeddings", false)), new SearchSourceBuilder().size(3), 10);
        assertTrue(ext(run.response).applied());
        for (Object candidate : (List<?>) stub.lastBody.get("candidates")) {
            Map<?, ?> c = (Map<?, ?>) candidate;
            assertFalse(c.containsKey("embedding"));
            assertTrue(c.containsKey("brand"));
        }
        assertFalse(run.response.getHits().getHits()[0].getSourceAsMap().containsKey("embedding"));
    }

    /**
     * A window whose vectors came through the fetch phase or through {@code _source} (JSON). Fetched
     * vectors are raw bytes, every third one base64 text as a node of an older plugin attaches it.
     */
    private static SearchResponse windowWithVectors(int n, boolean fetched) {
        SearchHit[] hits = new SearchHit[n];
        for (int i = 0; i < n; i++) {
            if (fetched) {
                float[] vector = { i, 1.0f, 0.5f };
                ByteBuffer bytes = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(vector);
                Object attached = i % 3 == 2 ? Base64.getEncoder().encodeToString(bytes.array()) : bytes.array();
                Map<String, DocumentField> fields = new HashMap<>();
                fields.put(VectorFetchPhase.FIELD, new DocumentField(VectorFetchPhase.FIELD, List.of(attached)));
                hits[i] = new SearchHit(i, "d" + i, fields, new HashMap<>());
                hits[i].sourceRef(new BytesArray("{\"title\":\"item " + i + "\",\"brand\":\"b" + (i % 3) + "\"}"));
                hits[i].score(1000f - i);
                hits[i].shard(new SearchShardTarget("node-1", new ShardId("products-1", "uuid", 0), null, null));
            } else {
                hits[i] = hit(i, true);
            }
        }
        SearchHits searchHits = new SearchHits(hits, new TotalHits(n, TotalHits.Relation.EQUAL_TO), 1000f);
        return new SearchResponse(
            new SearchResponseSections(searchHits, null, null, false, null, null, 1),
            null, 1, 1, 0, 3, ShardSearchFailure.EMPTY_ARRAY, SearchResponse.Clusters.EMPTY
        );
    }

    private SearchResponse runWindow(DivrankResponseProcessor processor, SearchResponse window, int from, int size) throws Exception {
        SearchRequest request = new SearchRequest("products").source(new SearchSourceBuilder().from(from).size(size));
        PipelineProcessingContext context = new PipelineProcessingContext();
        WindowProcessors.fetchingVectors(100, "embedding").processRequest(request, context);
        CompletableFuture<SearchResponse> done = new CompletableFuture<>();
        processor.processResponseAsync(request, window, context, ActionListener.wrap(done::complete, done::completeExceptionally));
        return done.get(10, TimeUnit.SECONDS);
    }

    @Test
    @SuppressWarnings("unchecked")
    void fetchedVectorsGoOutAsBase64AndTheSamePageComesBack() throws Exception {
        stub.script(StubSidecar::byVector);
        DivrankResponseProcessor processor = processor(Map.of());
        SearchResponse binary = runWindow(processor, windowWithVectors(40, true), 5, 10);
        List<Map<String, Object>> sent = (List<Map<String, Object>>) stub.lastBody.get("candidates");
        assertEquals(40, sent.size());
        for (Map<String, Object> c : sent) {
            assertTrue(c.get("embedding_b64") instanceof String, c.toString());
            assertFalse(c.containsKey("embedding"), "one vector form per candidate");
            assertTrue(c.containsKey("brand"), "labels still come from _source");
        }
        assertEquals("AAAAAAAAgD8AAAA/", sent.get(0).get("embedding_b64"), "[0, 1, 0.5] as little-endian float32");
        for (SearchHit hit : binary.getHits().getHits()) {
            assertNull(hit.field(VectorFetchPhase.FIELD), "the binary vector never reaches the caller");
        }

        SearchResponse json = runWindow(processor, windowWithVectors(40, false), 5, 10);
        List<Map<String, Object>> sentJson = (List<Map<String, Object>>) stub.lastBody.get("candidates");
        assertTrue(sentJson.get(0).get("embedding") instanceof List<?>);
        assertFalse(sentJson.get(0).containsKey("embedding_b64"));

        assertEquals(ids(json), ids(binary));
        assertEquals(10, ids(binary).size());
        assertFalse(range(5, 15, false, 40).equals(ids(binary)), "the stub's vector order differs from engine order");
    }

    @Test
    @SuppressWarnings("unchecked")
    void fetchedVectorsStayHomeWithoutSendEmbeddings() throws Exception {
        SearchResponse page = runWindow(processor(Map.of("send_embeddings", false)), windowWithVectors(10, true), 0, 3);
        for (Map<String, Object> c : (List<Map<String, Object>>) stub.lastBody.get("candidates")) {
            assertFalse(c.containsKey("embedding_b64"));
            assertFalse(c.containsKey("embedding"));
        }
        for (SearchHit hit : page.getHits().getHits()) {
            assertNull(hit.field(VectorFetchPhase.FIELD));
        }
    }

    @Test
    void sidecarCompletionRunsOnTheGivenExecutor() throws Exception {
        ExecutorService node = Executors.newSingleThreadExecutor(r -> new Thread(r, "node-generic"));
        AtomicInteger tasks = new AtomicInteger();
        executor = task -> {
            tasks.incrementAndGet();
            try {
                // Returns only once the task has run: the sidecar's answer is in before the
                // processor could attach anything, the case where a future's dependent stage
                // ran on the caller's thread instead.
                node.submit(task).get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        try {
            DivrankResponseProcessor processor = processor(Map.of());
            for (boolean sidecarUp : List.of(true, false)) {
                if (!sidecarUp) stub.script(body -> new StubSidecar.Reply(500, "{}", 0));
                SearchRequest request = new SearchRequest("products").source(new SearchSourceBuilder().size(5));
                PipelineProcessingContext context = new PipelineProcessingContext();
                WindowProcessors.window(20).processRequest(request, context);
                CompletableFuture<String> thread = new CompletableFuture<>();
                processor.processResponseAsync(request, response(20, new ArrayList<>()), context, ActionListener.wrap(
                    r -> thread.complete(Thread.currentThread().getName()),
                    thread::completeExceptionally
                ));
                assertEquals("node-generic", thread.get(10, TimeUnit.SECONDS), "sidecar up: " + sidecarUp);
            }
            assertEquals(2, tasks.get(), "one hand-off per search: the reply's parse and the page cut run in one task");
        } finally {
            node.shutdownNow();
        }
    }

    @Test
    void aClosingExecutorStillAnswersTheListenerOnce() throws Exception {
        executor = task -> {
            throw new RejectedExecutionException("node closing");
        };
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<Exception> failure = new CompletableFuture<>();
        SearchRequest request = new SearchRequest("products").source(new SearchSourceBuilder().size(5));
        PipelineProcessingContext context = new PipelineProcessingContext();
        WindowProcessors.window(20).processRequest(request, context);
        processor(Map.of()).processResponseAsync(request, response(20, new ArrayList<>()), context, ActionListener.wrap(r -> {
            calls.incrementAndGet();
            failure.complete(null);
        }, e -> {
            calls.incrementAndGet();
            failure.complete(e);
        }));
        assertInstanceOf(RejectedExecutionException.class, failure.get(10, TimeUnit.SECONDS));
        Thread.sleep(200);
        assertEquals(1, calls.get());
    }

    @Test
    void synchronousPathRefusesToBlock() throws Exception {
        DivrankResponseProcessor processor = processor(Map.of());
        assertThrows(UnsupportedOperationException.class, () -> processor.processResponse(new SearchRequest(), response(1, List.of())));
    }

    // ---- configuration ---------------------------------------------------------------------

    @Test
    void configDefaultsAndOverrides() throws Exception {
        DivrankResponseProcessor p = processor(
            Map.of("default_diversity", 0.2, "default_strategy", "mmr", "embedding_field", "vec", "fail_open", false)
        );
        assertEquals(new Knobs(0.2, Strategy.MMR, false, null, null, null), p.config().defaults());
        assertEquals("vec", p.config().fields().embedding());
        assertEquals("title", p.config().fields().title());
        assertFalse(p.config().failOpen());
        assertEquals(List.of(URI.create(stub.url() + "/v1/rerank")), p.sidecar().endpoints());
    }

    @Test
    void invalidConfigNamesTheKey() {
        Map<String, Object> cases = new HashMap<>();
        cases.put("sidecar_url", "ftp://host");
        cases.put("connect_timeout_ms", 0);
        cases.put("read_timeout_ms", 999_999);
        cases.put("default_diversity", 1.5);
        cases.put("default_strategy", "random");
        cases.put("embedding_field", "");
        for (Map.Entry<String, Object> c : cases.entrySet()) {
            OpenSearchException e = assertThrows(OpenSearchException.class, () -> processor(Map.of(c.getKey(), c.getValue())), c.getKey());
            assertTrue(e.getMessage().contains(c.getKey()), e.getMessage());
        }
        OpenSearchException e = assertThrows(OpenSearchException.class, () -> processor(Map.of("sidecar_url", "http://user:pw@host:1")));
        assertFalse(e.getMessage().contains("pw"), "credentials must not be echoed: " + e.getMessage());
    }

    // ---- node policy and transport faults ----------------------------------------------------

    @Test
    void hostsOutsideTheAllowListAreRefusedAtCreation() throws Exception {
        for (String url : List.of("http://example.com:8600", "http://203.0.113.7:8600", "https://sidecar.internal")) {
            OpenSearchException e = assertThrows(OpenSearchException.class, () -> processor(Map.of("sidecar_url", url)), url);
            assertTrue(e.getMessage().contains("divrank.sidecar.allowed_hosts"), e.getMessage());
            assertTrue(e.getMessage().contains("sidecar_url"), e.getMessage());
        }
        assertEquals(0, stub.calls.get());
        processor(Map.of("sidecar_url", "http://[::1]:8600"));  // loopback by default, IPv6 too
        processor(Map.of("sidecar_url", "http://LOCALHOST:8600"));
        nodeSettings = org.opensearch.common.settings.Settings.builder()
            .putList("divrank.sidecar.allowed_hosts", "sidecar.internal")
            .build();
        processor(Map.of("sidecar_url", "https://sidecar.internal"));  // the operator widened it
        assertThrows(OpenSearchException.class, () -> processor(Map.of()));  // and 127.0.0.1 is off now
    }

    @Test
    void oversizedReplyFailsOpen() throws Exception {
        nodeSettings = org.opensearch.common.settings.Settings.builder().put("divrank.sidecar.max_reply_bytes", 2048).build();
        stub.script(body -> new StubSidecar.Reply(200, "{\"ids\":[\"d1\"],\"pad\":\"" + "x".repeat(10_000) + "\"}", 0));
        assertDegraded(run(processor(Map.of()), new SearchSourceBuilder().size(5), 20), "sidecar_reply_too_large", 5);
        stub.script(StubSidecar::reverse);  // under the cap: applied as usual
        SearchResponse out = run(processor(Map.of()), new SearchSourceBuilder().size(5), 20).response;
        assertTrue(ext(out).applied());
    }

    @Test
    void connectTimeoutFailsOpen() throws Exception {
        // A listener that never accepts, its backlog filled: the next SYN is dropped, so the
        // connect hangs until the processor's connect timeout.
        try (ServerSocket full = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            List<java.net.Socket> queued = new ArrayList<>();
            try {
                for (int i = 0; i < 8; i++) {
                    java.net.Socket s = new java.net.Socket();
                    try {
                        s.connect(new java.net.InetSocketAddress("127.0.0.1", full.getLocalPort()), 100);
                        queued.add(s);
                    } catch (java.io.IOException e) {
                        s.close();
                        break;
                    }
                }
                Run run = run(
                    processor(Map.of("sidecar_url", "http://127.0.0.1:" + full.getLocalPort(), "connect_timeout_ms", 150)),
                    new SearchSourceBuilder().size(10),
                    50
                );
                assertDegraded(run, "sidecar_connect_timeout", 10);
            } finally {
                for (java.net.Socket s : queued) {
                    s.close();
                }
            }
        }
    }

    @Test
    void connectionResetMidReplyFailsOpen() throws Exception {
        try (RawSidecar raw = new RawSidecar((socket, out) -> {
            out.write(RawSidecar.ascii("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"ids\":[\"d1\","));
            out.flush();
            socket.setSoLinger(true, 0);  // close with RST, mid-body
        })) {
            Run run = run(processor(Map.of("sidecar_url", raw.url().toString())), new SearchSourceBuilder().size(10), 50);
            assertDegraded(run, "sidecar_io_error", 10);
        }
    }

    @Test
    void aKeptAliveConnectionTheSidecarClosedIsRetriedOnAFreshOne() throws Exception {
        // Answers one request per connection and then closes it, without announcing it (as
        // uvicorn does with an idle connection, or a restarted sidecar): the pooled connection
        // is dead when the next search takes it, and that search must still be re-ranked.
        StringBuilder json = new StringBuilder("{\"ids\":[");
        for (int i = 9; i >= 0; i--) {
            json.append('"').append('d').append(i).append('"').append(i > 0 ? "," : "]}");
        }
        byte[] body = RawSidecar.ascii(json.toString());
        AtomicInteger connections = new AtomicInteger();
        try (RawSidecar raw = new RawSidecar((socket, out) -> {
            connections.incrementAndGet();
            out.write(RawSidecar.ascii("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n"));
            out.write(body);
            out.flush();
        })) {
            DivrankResponseProcessor processor = processor(Map.of("sidecar_url", raw.url().toString()));
            for (int i = 0; i < 3; i++) {
                Run run = run(processor, new SearchSourceBuilder().size(10), 50);
                assertNull(run.failure);
                DivrankResponseExt ext = ext(run.response);
                assertTrue(ext.applied() && !ext.degraded(), "search " + i + ": " + ext.reason());
                assertEquals("d9", run.response.getHits().getHits()[0].getId());
            }
            assertEquals(3, connections.get());
            assertEquals(0, stats.degraded());
        }
    }

    @Test
    void slowTrickleReplyFailsOpenAtTheDeadline() throws Exception {
        try (RawSidecar raw = new RawSidecar((socket, out) -> {
            out.write(RawSidecar.ascii("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"));
            for (int i = 0; i < 100; i++) {  // a byte every 50 ms: never done within 200 + 300 ms
                out.write('[');
                out.flush();
                Thread.sleep(50);
            }
        })) {
            Run run = run(processor(Map.of("sidecar_url", raw.url().toString())), new SearchSourceBuilder().size(10), 50);
            assertDegraded(run, "sidecar_timeout", 10);
            assertTrue(run.elapsedMs < 2000, "took " + run.elapsedMs + " ms with a 200+300 ms budget");
        }
    }

    @Test
    void severalSidecarsShareTheLoadAndSkipADeadOne() throws Exception {
        int dead;
        try (ServerSocket socket = new ServerSocket(0)) {
            dead = socket.getLocalPort();
        }
        try (StubSidecar second = new StubSidecar()) {
            List<String> urls = List.of("http://127.0.0.1:" + dead, stub.url().toString(), second.url().toString());
            DivrankResponseProcessor processor = processor(Map.of("sidecar_url", urls));
            assertEquals(3, processor.sidecar().endpoints().size());
            for (int i = 0; i < 12; i++) {
                Run run = run(processor, new SearchSourceBuilder().size(5), 20);
                assertTrue(ext(run.response).applied(), "search " + i + ": " + ext(run.response).reason());
            }
            assertTrue(stub.calls.get() >= 4 && second.calls.get() >= 4, stub.calls.get() + " / " + second.calls.get());
            second.close(); // now only one is up: still re-ranked, never degraded
            for (int i = 0; i < 6; i++) {
                assertTrue(ext(run(processor, new SearchSourceBuilder().size(5), 20).response).applied());
            }
        }
        assertEquals(0, stats.degraded());
        OpenSearchException e = assertThrows(OpenSearchException.class, () -> processor(Map.of("sidecar_url", List.of())));
        assertTrue(e.getMessage().contains("sidecar_url"), e.getMessage());
    }

    // ---- lean window (doc values only, the page read back) ------------------------------------

    /** Records the engine reads of a lean window; a page hit's source reads back as its id. */
    private static final class FakePages implements PageSources {
        final List<FetchSourceContext> filters = new ArrayList<>();
        final List<List<String>> filled = new ArrayList<>();
        SearchRequest searched;
        SearchResponse searchAnswer;

        @Override
        public void fill(SearchHit[] page, FetchSourceContext source, ActionListener<SearchHit[]> listener) {
            filters.add(source);
            List<String> ids = new ArrayList<>();
            for (SearchHit hit : page) {
                ids.add(hit.getId());
                if (source.fetchSource()) hit.sourceRef(new BytesArray("{\"title\":\"read back " + hit.getId() + "\"}"));
            }
            filled.add(ids);
            listener.onResponse(page);
        }

        @Override
        public void search(SearchRequest request, ActionListener<SearchResponse> listener) {
            searched = request;
            listener.onResponse(searchAnswer);
        }
    }

    /** A lean window hit: no id, no _source, the features and (optionally) the id as doc values. */
    private static SearchHit leanHit(int i, boolean withId) {
        Map<String, DocumentField> fields = new HashMap<>();
        BiConsumerFields put = (name, value) -> fields.put(name, new DocumentField(name, List.of(value)));
        if (withId) put.accept("item_id", "d" + i);
        put.accept("category", "printing/toner");
        put.accept("brand", "b" + (i % 3));
        put.accept("price", 10.5 + i);
        put.accept("title.raw", "item " + i);
        put.accept("popularity", 3.0);
        ByteBuffer bytes = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(new float[] { i, 1.0f, 0.5f });
        put.accept(VectorFetchPhase.FIELD, bytes.array());
        SearchHit hit = new SearchHit(i, null, fields, new HashMap<>());
        hit.score(1000f - i);
        hit.matchedQueries(new String[] { "named-" + i });
        hit.shard(new SearchShardTarget("node-1", new ShardId("products-1", "uuid", 0), null, null));
        return hit;
    }

    private interface BiConsumerFields {
        void accept(String name, Object value);
    }

    private Run runLean(DivrankResponseProcessor processor, SearchSourceBuilder source, int windowHits, boolean withIds) throws Exception {
        SearchRequest request = new SearchRequest("products").source(source);
        PipelineProcessingContext context = new PipelineProcessingContext();
        WindowProcessors.lean(100, Map.of()).processRequest(request, context);
        SearchHit[] hits = new SearchHit[windowHits];
        for (int i = 0; i < windowHits; i++) {
            hits[i] = leanHit(i, withIds);
        }
        SearchHits searchHits = new SearchHits(hits, new TotalHits(windowHits, TotalHits.Relation.EQUAL_TO), 1000f);
        SearchResponse window = new SearchResponse(
            new SearchResponseSections(searchHits, null, null, false, null, null, 1),
            null, 1, 1, 0, 3, ShardSearchFailure.EMPTY_ARRAY, SearchResponse.Clusters.EMPTY
        );
        CompletableFuture<SearchResponse> done = new CompletableFuture<>();
        processor.processResponseAsync(request, window, context, ActionListener.wrap(done::complete, done::completeExceptionally));
        try {
            return new Run(done.get(10, TimeUnit.SECONDS), null, 0, context.getAttributes());
        } catch (ExecutionException e) {
            return new Run(null, (Exception) e.getCause(), 0, context.getAttributes());
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void leanWindowSendsDocValueFeaturesAndReadsBackOnlyThePage() throws Exception {
        stub.script(StubSidecar::reverse);
        Run run = runLean(processor(Map.of()), new SearchSourceBuilder().from(10).size(10), 30, true);
        assertNull(run.failure);
        assertEquals(range(10, 20, true, 30), ids(run.response));
        assertTrue(ext(run.response).applied());
        Map<String, Object> first = ((List<Map<String, Object>>) stub.lastBody.get("candidates")).get(0);
        assertEquals("d0", first.get("id"));
        assertEquals("printing/toner", first.get("category"));
        assertEquals("b0", first.get("brand"));
        assertEquals(10.5, first.get("price"));
        assertEquals("item 0", first.get("title"));
        assertEquals(3.0, first.get("popularity"));
        assertEquals("AAAAAAAAgD8AAAA/", first.get("embedding_b64"));
        assertEquals(List.of(range(10, 20, true, 30)), pages.filled, "only the page is read back, once");
        assertEquals(1, stats.leanPages());
        FetchSourceContext filter = pages.filters.get(0);
        assertTrue(filter.fetchSource());
        assertEquals(List.of("embedding"), List.of(filter.excludes()), "the vector stays out of the page");
        for (SearchHit hit : run.response.getHits().getHits()) {
            assertEquals("read back " + hit.getId(), hit.getSourceAsMap().get("title"));
            assertTrue(hit.getFields().isEmpty(), "the window's doc-value fields are not shown: " + hit.getFields());
            assertEquals("products-1", hit.getIndex());
            assertEquals(List.of("named-" + hit.getId().substring(1)), List.of(hit.getMatchedQueries()), "named queries carried over");
        }
    }

    @Test
    void leanWindowReadsThePageAsTheCallerFilteredIt() throws Exception {
        FetchSourceContext titleOnly = new FetchSourceContext(true, new String[] { "title" }, new String[0]);
        runLean(processor(Map.of()), new SearchSourceBuilder().size(5).fetchSource(titleOnly), 20, true);
        assertEquals(titleOnly, pages.filters.get(0));
        Run none = runLean(processor(Map.of()), new SearchSourceBuilder().size(5).fetchSource(false), 20, true);
        assertFalse(pages.filters.get(1).fetchSource());
        assertFalse(none.response.getHits().getHits()[0].hasSource());
        assertEquals(5, none.response.getHits().getHits().length);
    }

    @Test
    void leanWindowFailsOpenToEngineOrderWithThePageReadBack() throws Exception {
        stub.script(body -> new StubSidecar.Reply(503, "{}", 0));
        Run run = runLean(processor(Map.of()), new SearchSourceBuilder().size(4), 20, true);
        assertNull(run.failure);
        assertEquals(range(0, 4, false, 20), ids(run.response));
        assertTrue(ext(run.response).degraded());
        assertEquals(List.of(range(0, 4, false, 20)), pages.filled);
        assertEquals("read back d0", run.response.getHits().getHits()[0].getSourceAsMap().get("title"));
    }

    @Test
    void leanWindowWithoutIdsRunsTheCallersSearchAgainOutsideThePipeline() throws Exception {
        pages.searchAnswer = response(3, new ArrayList<>());
        FetchSourceContext titleOnly = new FetchSourceContext(true, new String[] { "title" }, new String[0]);
        Run run = runLean(processor(Map.of()), new SearchSourceBuilder().from(2).size(3).fetchSource(titleOnly), 20, false);
        assertNull(run.failure);
        assertNull(stub.lastBody, "nothing to re-rank: the sidecar is not called");
        SearchRequest again = pages.searched;
        assertEquals(PageSources.NO_PIPELINE, again.pipeline());
        assertEquals(2, again.source().from());
        assertEquals(3, again.source().size());
        assertEquals(titleOnly, again.source().fetchSource());
        assertNull(again.source().storedFields());
        assertTrue(again.source().docValueFields() == null || again.source().docValueFields().isEmpty());
        assertTrue(again.source().ext().stream().noneMatch(e -> e instanceof VectorFetchExt));
        assertEquals(List.of("d0", "d1", "d2"), ids(run.response));
        DivrankResponseExt ext = ext(run.response);
        assertTrue(ext.degraded());
        assertEquals("lean_window_no_id", ext.reason());
        assertEquals(1, stats.degradedFor("lean_window_no_id"));

        Run closed = runLean(processor(Map.of("fail_open", false)), new SearchSourceBuilder().size(3), 20, false);
        assertNotNull(closed.failure);
        assertTrue(closed.failure.getMessage().contains("lean_window_no_id"), closed.failure.getMessage());
    }
}
