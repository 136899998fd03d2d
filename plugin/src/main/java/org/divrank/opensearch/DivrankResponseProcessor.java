package org.divrank.opensearch;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.opensearch.OpenSearchStatusException;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.action.search.SearchResponse;
import org.opensearch.action.support.ContextPreservingActionListener;
import org.opensearch.common.document.DocumentField;
import org.opensearch.common.util.concurrent.ThreadContext;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.common.xcontent.support.XContentMapValues;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.ingest.ConfigurationUtils;
import org.opensearch.search.SearchHit;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.search.fetch.subphase.FetchSourceContext;
import org.opensearch.search.pipeline.AbstractProcessor;
import org.opensearch.search.pipeline.PipelineProcessingContext;
import org.opensearch.search.pipeline.Processor;
import org.opensearch.search.pipeline.SearchResponseProcessor;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * {@code divrank}: posts the window of hits to the sidecar, applies the order it returns, and
 * cuts the caller's page out of it.
 *
 * <p>Asynchronous only ({@link #processResponseAsync}): the HTTP call completes on the client's
 * threads, never blocking a search thread; the synchronous entry point refuses to run. Every path
 * ends in exactly one listener call. When the sidecar is down, late, or answers something that
 * is not a valid order, the engine's order is returned (fail-open, the default) with
 * {@code ext.divrank.degraded=true}, or the search fails with a clear error
 * ({@code fail_open: false}).
 */
public final class DivrankResponseProcessor extends AbstractProcessor implements SearchResponseProcessor {

    /** Processor type in a pipeline definition. */
    public static final String TYPE = "divrank";
    /** Per-hit explanation, under the hit's {@code fields}. */
    public static final String EXPLANATION_FIELD = "_divrank";

    static final String SIDECAR_URL = "sidecar_url";
    static final String CONNECT_TIMEOUT_MS = "connect_timeout_ms";
    static final String READ_TIMEOUT_MS = "read_timeout_ms";
    static final String EMBEDDING_FIELD = "embedding_field";
    static final String CATEGORY_FIELD = "category_field";
    static final String BRAND_FIELD = "brand_field";
    static final String PRICE_FIELD = "price_field";
    static final String TITLE_FIELD = "title_field";
    static final String DEFAULT_DIVERSITY = "default_diversity";
    static final String DEFAULT_STRATEGY = "default_strategy";
    static final String FAIL_OPEN = "fail_open";
    static final String SEND_EMBEDDINGS = "send_embeddings";

    /** Default sidecar address (reranker settings: 127.0.0.1:8600). */
    public static final String DEFAULT_SIDECAR_URL = "http://127.0.0.1:8600";
    /** How long a sidecar that failed at the transport level is skipped when others are up. */
    static final long SIDECAR_BACKOFF_MS = 5_000;
    static final int DEFAULT_CONNECT_MS = 200;
    static final int DEFAULT_READ_MS = 1000;
    static final int MAX_TIMEOUT_MS = 60_000;
    static final double DEFAULT_DIVERSITY_VALUE = 0.5;

    private static final Logger LOG = LogManager.getLogger(DivrankResponseProcessor.class);

    private final SidecarPool sidecar;
    private final CandidateFields fields;
    private final Knobs defaults;
    private final boolean failOpen;
    private final DivrankStats stats;
    private final ThreadContext threadContext;

    private DivrankResponseProcessor(
        String tag,
        String description,
        boolean ignoreFailure,
        SidecarPool sidecar,
        CandidateFields fields,
        Knobs defaults,
        boolean failOpen,
        DivrankStats stats,
        ThreadContext threadContext
    ) {
        super(tag, description, ignoreFailure);
        this.sidecar = sidecar;
        this.fields = fields;
        this.defaults = defaults;
        this.failOpen = failOpen;
        this.stats = stats;
        this.threadContext = threadContext;
    }

    @Override
    public String getType() {
        return TYPE;
    }

    SidecarPool sidecar() {
        return sidecar;
    }

    Knobs defaults() {
        return defaults;
    }

    CandidateFields fields() {
        return fields;
    }

    boolean failOpen() {
        return failOpen;
    }

    @Override
    public SearchResponse processResponse(SearchRequest request, SearchResponse response) {
        throw new UnsupportedOperationException(TYPE + " is asynchronous; it runs through processResponseAsync only");
    }

    @Override
    public void processResponseAsync(
        SearchRequest request,
        SearchResponse response,
        PipelineProcessingContext context,
        ActionListener<SearchResponse> responseListener
    ) {
        final ActionListener<SearchResponse> listener = threadContext == null
            ? responseListener
            : ContextPreservingActionListener.wrapPreservingContext(responseListener, threadContext);
        final long started = System.nanoTime();
        try {
            stats.request();
            SearchHit[] window = response.getHits().getHits();
            PageState page = PageState.load(context);
            if (page == null) {
                // No divrank_window before us: the hits are the page; re-rank them in place.
                page = new PageState(0, window.length, window.length, null, false, null);
            }
            if (!page.rerank()) {
                stats.skipped(page.skipReason());
                listener.onResponse(
                    ResponsePage.rebuild(response, window, new DivrankResponseExt(false, false, page.skipReason(), null, null, null, 0, 0, 0))
                );
                return;
            }
            final PageState state = page;
            SearchSourceBuilder source = request.source();
            DivrankSearchExt ext = source == null ? null : DivrankSearchExt.find(source.ext());
            final Knobs knobs = defaults.with(ext);
            if (window.length == 0 || state.from() >= window.length) {
                stats.skipped("no_hits_in_page");
                listener.onResponse(
                    ResponsePage.rebuild(
                        response,
                        new SearchHit[0],
                        new DivrankResponseExt(false, false, "no_hits_in_page", null, null, null, window.length, 0, 0)
                    )
                );
                return;
            }
            RerankBody.Built body;
            try {
                body = RerankBody.build(
                    window,
                    fields,
                    indexOf(window, request),
                    source == null ? null : QueryText.of(source.query()),
                    ext == null ? null : ext.userId(),
                    ext == null ? null : ext.historyItemIds(),
                    knobs
                );
            } catch (SidecarFailure failure) {
                fallback(response, window, state, knobs, failure, started, 0, Map.of(), listener);
                return;
            }
            final RerankBody.Built built = body;
            final long sent = System.nanoTime();
            sidecar.rerank(body.json(), body.ids()).whenComplete((reply, error) -> {
                try {
                    long waited = System.nanoTime() - sent;
                    if (error != null) {
                        stats.sidecarCall(waited);
                        fallback(response, window, state, knobs, unwrap(error), started, waited, built.scanned(), listener);
                    } else {
                        stats.reranked(waited);
                        listener.onResponse(reorder(response, window, state, knobs, reply, started, waited, built.scanned()));
                    }
                } catch (Exception e) {
                    listener.onFailure(e);
                }
            });
        } catch (Exception e) {
            listener.onFailure(e);
        }
    }

    private static SidecarFailure unwrap(Throwable error) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof SidecarFailure failure) {
            return failure;
        }
        return new SidecarFailure("internal_error", "divrank response processor failed: " + cause, cause);
    }

    private void fallback(
        SearchResponse response,
        SearchHit[] window,
        PageState page,
        Knobs knobs,
        SidecarFailure failure,
        long started,
        long sidecarNanos,
        Map<String, SourceScan.Features> scanned,
        ActionListener<SearchResponse> listener
    ) throws IOException {
        if (!failOpen) {
            stats.failed(failure.reason());
            listener.onFailure(
                new OpenSearchStatusException(
                    "divrank re-ranking failed [" + failure.reason() + "]: " + failure.getMessage() + " (fail_open is false)",
                    statusOf(failure.reason()),
                    failure
                )
            );
            return;
        }
        stats.degraded(failure.reason());
        LOG.debug("divrank degraded to engine order: {}", failure.getMessage());
        SearchHit[] hits = cut(Arrays.asList(window), page, knobs, null, scanned);
        DivrankResponseExt ext = new DivrankResponseExt(
            false,
            true,
            failure.reason(),
            knobs.strategy().wireName(),
            knobs.diversity(),
            null,
            window.length,
            elapsedMs(started),
            sidecarNanos / 1_000_000L
        );
        listener.onResponse(ResponsePage.rebuild(response, hits, ext));
    }

    private static RestStatus statusOf(String reason) {
        if (reason.equals("duplicate_ids")) return RestStatus.BAD_REQUEST;
        if (reason.startsWith("sidecar_http_") || reason.equals("sidecar_bad_reply")) return RestStatus.BAD_GATEWAY;
        if (reason.equals("internal_error")) return RestStatus.INTERNAL_SERVER_ERROR;
        return RestStatus.SERVICE_UNAVAILABLE;
    }

    private SearchResponse reorder(
        SearchResponse response,
        SearchHit[] window,
        PageState page,
        Knobs knobs,
        SidecarReply reply,
        long started,
        long sidecarNanos,
        Map<String, SourceScan.Features> scanned
    ) throws IOException {
        Map<String, SearchHit> byId = new LinkedHashMap<>();
        for (SearchHit hit : window) {
            byId.put(hit.getId(), hit);
        }
        List<SearchHit> order = new ArrayList<>(window.length);
        for (String id : reply.ids()) {
            order.add(byId.remove(id));
        }
        order.addAll(byId.values()); // ids the sidecar left out keep engine order after its list
        SearchHit[] hits = cut(order, page, knobs, reply, scanned);
        DivrankResponseExt ext = new DivrankResponseExt(
            true,
            false,
            null,
            reply.strategy() != null ? reply.strategy() : knobs.strategy().wireName(),
            knobs.diversity(),
            reply.modelVersion(),
            window.length,
            elapsedMs(started),
            sidecarNanos / 1_000_000L
        );
        return ResponsePage.rebuild(response, hits, ext);
    }

    /** The caller's page out of the ordered window, with {@code _source} shaped as they asked. */
    private SearchHit[] cut(
        List<SearchHit> order,
        PageState page,
        Knobs knobs,
        SidecarReply reply,
        Map<String, SourceScan.Features> scanned
    ) throws IOException {
        int from = Math.min(page.from(), order.size());
        int to = (int) Math.min((long) page.from() + page.size(), order.size());
        Map<String, Double> fused = new HashMap<>();
        if (reply != null && knobs.explain()) {
            for (int i = 0; i < reply.ids().size(); i++) {
                if (i < reply.scores().size()) fused.put(reply.ids().get(i), reply.scores().get(i));
            }
        }
        SearchHit[] out = new SearchHit[to - from];
        for (int i = from; i < to; i++) {
            SearchHit hit = order.get(i);
            RerankBody.takeFetchedVector(hit); // already gone unless the body was never built
            shapeSource(hit, page, scanned.get(hit.getId()));
            if (reply != null && knobs.explain()) {
                Map<String, Object> explanation = new LinkedHashMap<>();
                Map<String, Object> fromSidecar = reply.explanations().get(hit.getId());
                if (fromSidecar != null) {
                    explanation.putAll(fromSidecar);
                    explanation.remove("id");
                }
                if (!explanation.containsKey("fused") && fused.get(hit.getId()) != null) {
                    explanation.put("fused", fused.get(hit.getId()));
                }
                explanation.put("engine_score", Float.isNaN(hit.getScore()) ? null : Float.valueOf(hit.getScore()));
                explanation.put("rank", i);
                hit.setDocumentField(EXPLANATION_FIELD, new DocumentField(EXPLANATION_FIELD, List.of(explanation)));
            }
            out[i - from] = hit;
        }
        return out;
    }

    /** Re-applies the caller's {@code _source} filter and strips the embedding unless they asked for it. */
    private void shapeSource(SearchHit hit, PageState page, SourceScan.Features features) throws IOException {
        if (!hit.hasSource()) {
            return;
        }
        FetchSourceContext caller = page.callerSource();
        if (!page.sourceWidened() && features != null) {
            // Common case (no caller filter): cut the embedding out of the raw bytes.
            BytesReference stripped = SourceScan.withoutEmbedding(features);
            if (stripped != null) {
                hit.sourceRef(stripped);
            }
            return;
        }
        if (page.sourceWidened() && caller != null && !caller.fetchSource()) {
            hit.sourceRef(null);
            return;
        }
        Map<String, Object> source = hit.getSourceAsMap();
        boolean changed = false;
        if (page.sourceWidened() && caller != null) {
            source = XContentMapValues.filter(source, caller.includes(), caller.excludes());
            changed = true;
        }
        boolean asked = caller != null && caller.fetchSource() && caller.includes().length > 0;
        if (!asked && XContentMapValues.extractValue(fields.embedding(), source) != null) {
            source = XContentMapValues.filter(source, new String[0], new String[] { fields.embedding() });
            changed = true;
        }
        if (changed) {
            try (XContentBuilder b = JsonXContent.contentBuilder()) {
                b.map(source);
                hit.sourceRef(BytesReference.bytes(b));
            }
        }
    }

    private static String indexOf(SearchHit[] window, SearchRequest request) {
        String index = null;
        for (SearchHit hit : window) {
            String own = hit.getIndex();
            if (own == null || (index != null && !index.equals(own))) {
                index = null;
                break;
            }
            index = own;
        }
        if (index != null) {
            return index;
        }
        String[] indices = request.indices();
        return indices != null && indices.length == 1 ? indices[0] : null;
    }

    private static long elapsedMs(long startedNanos) {
        return (System.nanoTime() - startedNanos) / 1_000_000L;
    }

    /**
     * Reads the processor config with {@link ConfigurationUtils}; any invalid value fails the
     * pipeline creation with a 400 naming the key.
     */
    public static final class Factory implements Processor.Factory<SearchResponseProcessor> {
        private final IntFunction<HttpClient> clients;
        private final Supplier<String> token;
        private final DivrankStats stats;
        private final ThreadContext threadContext;
        private final SidecarPolicy policy;

        /**
         * @param clients       shared HTTP client per connect timeout
         * @param token         bearer token from the keystore, may supply {@code null}
         * @param stats         node-local counters
         * @param threadContext node thread context, restored on the HTTP client's threads ({@code null} in unit tests)
         * @param policy        node-level sidecar host allow-list and reply cap
         */
        public Factory(
            IntFunction<HttpClient> clients,
            Supplier<String> token,
            DivrankStats stats,
            ThreadContext threadContext,
            SidecarPolicy policy
        ) {
            this.clients = clients;
            this.token = token;
            this.stats = stats;
            this.threadContext = threadContext;
            this.policy = policy;
        }

        @Override
        public DivrankResponseProcessor create(
            Map<String, Processor.Factory<SearchResponseProcessor>> processorFactories,
            String tag,
            String description,
            boolean ignoreFailure,
            Map<String, Object> config,
            PipelineContext pipelineContext
        ) {
            List<URI> bases = new ArrayList<>();
            for (String url : sidecarUrls(tag, config)) {
                URI base = sidecarUri(tag, url);
                if (!policy.allows(base.getHost())) {
                    // refused before any connection: the token and the hits never go there
                    throw ConfigurationUtils.newConfigurationException(
                        TYPE,
                        tag,
                        SIDECAR_URL,
                        "host [" + base.getHost() + "] is not in the node setting divrank.sidecar.allowed_hosts "
                            + policy.allowedHosts().stream().sorted().toList() + "; an operator adds it in opensearch.yml"
                    );
                }
                bases.add(base);
            }
            int connectMs = timeout(tag, config, CONNECT_TIMEOUT_MS, DEFAULT_CONNECT_MS);
            int readMs = timeout(tag, config, READ_TIMEOUT_MS, DEFAULT_READ_MS);
            CandidateFields fields = new CandidateFields(
                field(tag, config, EMBEDDING_FIELD, CandidateFields.DEFAULTS.embedding()),
                field(tag, config, CATEGORY_FIELD, CandidateFields.DEFAULTS.category()),
                field(tag, config, BRAND_FIELD, CandidateFields.DEFAULTS.brand()),
                field(tag, config, PRICE_FIELD, CandidateFields.DEFAULTS.price()),
                field(tag, config, TITLE_FIELD, CandidateFields.DEFAULTS.title()),
                ConfigurationUtils.readBooleanProperty(TYPE, tag, config, SEND_EMBEDDINGS, true)
            );
            double diversity = DEFAULT_DIVERSITY_VALUE;
            if (config.containsKey(DEFAULT_DIVERSITY)) {
                Object raw = config.remove(DEFAULT_DIVERSITY);
                try {
                    diversity = DivrankSearchExt.unitInterval(DEFAULT_DIVERSITY, raw);
                } catch (IllegalArgumentException e) {
                    throw ConfigurationUtils.newConfigurationException(TYPE, tag, DEFAULT_DIVERSITY, "must be a number in [0, 1], got [" + raw + "]");
                }
            }
            String strategyName = ConfigurationUtils.readStringProperty(TYPE, tag, config, DEFAULT_STRATEGY, Strategy.FUSION.wireName());
            Strategy strategy;
            try {
                strategy = Strategy.parse(DEFAULT_STRATEGY, strategyName.toLowerCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw ConfigurationUtils.newConfigurationException(
                    TYPE, tag, DEFAULT_STRATEGY, "must be one of [" + Strategy.names() + "], got [" + strategyName + "]"
                );
            }
            boolean failOpen = ConfigurationUtils.readBooleanProperty(TYPE, tag, config, FAIL_OPEN, true);
            List<SidecarClient> sidecars = new ArrayList<>();
            for (URI base : bases) {
                sidecars.add(new SidecarClient(clients.apply(connectMs), base, connectMs, readMs, token, policy.maxReplyBytes()));
            }
            SidecarPool client = new SidecarPool(sidecars, SIDECAR_BACKOFF_MS, System::currentTimeMillis);
            return new DivrankResponseProcessor(
                tag,
                description,
                ignoreFailure,
                client,
                fields,
                new Knobs(diversity, strategy, false, null, null, null),
                failOpen,
                stats,
                threadContext
            );
        }

        /** {@code sidecar_url}: one URL, or a list of them (several sidecars, at most 16). */
        private static List<String> sidecarUrls(String tag, Map<String, Object> config) {
            Object raw = config.remove(SIDECAR_URL);
            if (raw == null) {
                return List.of(DEFAULT_SIDECAR_URL);
            }
            if (raw instanceof String url) {
                return List.of(url);
            }
            if (raw instanceof List<?> list && !list.isEmpty() && list.size() <= 16 && list.stream().allMatch(u -> u instanceof String)) {
                return list.stream().map(String.class::cast).toList();
            }
            throw ConfigurationUtils.newConfigurationException(
                TYPE, tag, SIDECAR_URL, "must be a URL or a list of 1 to 16 URLs, got [" + raw + "]"
            );
        }

        private static URI sidecarUri(String tag, String url) {
            try {
                URI uri = new URI(url);
                String scheme = uri.getScheme();
                if (scheme == null || !(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
                    throw ConfigurationUtils.newConfigurationException(
                        TYPE, tag, SIDECAR_URL, "must be an http(s) URL with a host, like " + DEFAULT_SIDECAR_URL + ", got [" + url + "]"
                    );
                }
                if (uri.getQuery() != null || uri.getFragment() != null || uri.getUserInfo() != null) {
                    throw ConfigurationUtils.newConfigurationException(
                        TYPE, tag, SIDECAR_URL, "must not carry credentials, a query or a fragment (put the token in the keystore)"
                    );
                }
                return uri;
            } catch (URISyntaxException e) {
                throw ConfigurationUtils.newConfigurationException(TYPE, tag, SIDECAR_URL, "is not a valid URL: [" + url + "]");
            }
        }

        private static int timeout(String tag, Map<String, Object> config, String key, int fallback) {
            int value = ConfigurationUtils.readIntProperty(TYPE, tag, config, key, fallback);
            if (value < 1 || value > MAX_TIMEOUT_MS) {
                throw ConfigurationUtils.newConfigurationException(TYPE, tag, key, "must be in [1, " + MAX_TIMEOUT_MS + "] ms, got " + value);
            }
            return value;
        }

        private static String field(String tag, Map<String, Object> config, String key, String fallback) {
            String value = ConfigurationUtils.readStringProperty(TYPE, tag, config, key, fallback);
            if (value.isBlank()) {
                throw ConfigurationUtils.newConfigurationException(TYPE, tag, key, "must be a non-empty field name");
            }
            return value;
        }
    }
}
