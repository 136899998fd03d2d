package org.divrank.opensearch;

import org.junit.jupiter.api.Test;
import org.opensearch.OpenSearchException;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.index.query.QueryBuilders;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.search.fetch.subphase.FetchSourceContext;
import org.opensearch.search.pipeline.PipelineProcessingContext;
import org.opensearch.search.sort.SortOrder;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WindowRequestProcessorTests {

    private static SearchRequest request(SearchSourceBuilder source) {
        return new SearchRequest("products").source(source);
    }

    @Test
    void widensToTheWindowAndRemembersThePage() {
        SearchSourceBuilder source = new SearchSourceBuilder().query(QueryBuilders.matchQuery("title", "toner")).from(10).size(10);
        PipelineProcessingContext context = new PipelineProcessingContext();
        SearchRequest out = WindowProcessors.window(100).processRequest(request(source), context);
        assertEquals(0, out.source().from());
        assertEquals(100, out.source().size());
        PageState page = PageState.load(context);
        assertEquals(new PageState(10, 10, 100, null, false, null), page);
        assertTrue(page.rerank());
        assertTrue(context.getAttributes().keySet().stream().allMatch(k -> k.startsWith("divrank.")));
    }

    @Test
    void defaultsWhenNoBody() {
        PipelineProcessingContext context = new PipelineProcessingContext();
        SearchRequest out = WindowProcessors.window(100).processRequest(new SearchRequest("products"), context);
        assertEquals(100, out.source().size());
        assertEquals(new PageState(0, 10, 100, null, false, null), PageState.load(context));
    }

    @Test
    void extWindowOverridesAndExtIsNotTouched() {
        DivrankSearchExt ext = new DivrankSearchExt("u1", 0.3, null, null, null, 30, null, null, null);
        SearchSourceBuilder source = new SearchSourceBuilder().size(5).ext(List.of(ext));
        PipelineProcessingContext context = new PipelineProcessingContext();
        SearchRequest out = WindowProcessors.window(100).processRequest(request(source), context);
        assertEquals(30, out.source().size());
        assertSame(ext, out.source().ext().get(0));
        assertEquals(new DivrankSearchExt("u1", 0.3, null, null, null, 30, null, null, null), out.source().ext().get(0));
        assertEquals(1, out.source().ext().size());
    }

    @Test
    void passesThroughWhatCannotBeReranked() {
        record Case(SearchRequest request, String reason) {}
        List<Case> cases = List.of(
            new Case(request(new SearchSourceBuilder().from(95).size(10)), "page_beyond_window"),
            new Case(request(new SearchSourceBuilder().size(0)), "size_zero"),
            new Case(request(new SearchSourceBuilder().sort("price", SortOrder.ASC)), "explicit_sort"),
            new Case(request(new SearchSourceBuilder().searchAfter(new Object[] { 1.0f })), "search_after"),
            new Case(request(new SearchSourceBuilder().size(10)).scroll(TimeValue.timeValueMinutes(1)), "scroll")
        );
        for (Case c : cases) {
            int size = c.request.source().size();
            int from = c.request.source().from();
            PipelineProcessingContext context = new PipelineProcessingContext();
            SearchRequest out = WindowProcessors.window(100).processRequest(c.request, context);
            assertEquals(size, out.source().size(), c.reason);
            assertEquals(from, out.source().from(), c.reason);
            PageState page = PageState.load(context);
            assertEquals(c.reason, page.skipReason());
            assertFalse(page.rerank());
        }
    }

    @Test
    void scoreSortIsStillReranked() {
        PipelineProcessingContext context = new PipelineProcessingContext();
        WindowProcessors.window(100).processRequest(request(new SearchSourceBuilder().sort("_score", SortOrder.DESC)), context);
        assertNull(PageState.load(context).skipReason());
    }

    @Test
    void widensARestrictedSourceAndRemembersIt() {
        FetchSourceContext callerSource = new FetchSourceContext(true, new String[] { "title" }, new String[0]);
        SearchSourceBuilder source = new SearchSourceBuilder().fetchSource(callerSource);
        PipelineProcessingContext context = new PipelineProcessingContext();
        SearchRequest out = WindowProcessors.window(100).processRequest(request(source), context);
        assertEquals(FetchSourceContext.FETCH_SOURCE, out.source().fetchSource());
        PageState page = PageState.load(context);
        assertTrue(page.sourceWidened());
        assertEquals(callerSource, page.callerSource());
    }

    @Test
    void excludedFieldsStayOutOfTheWindowUnlessAskedFor() {
        PipelineProcessingContext context = new PipelineProcessingContext();
        SearchRequest plain = WindowProcessors.window(100, List.of("embedding"))
            .processRequest(request(new SearchSourceBuilder()), context);
        assertEquals(new FetchSourceContext(true, new String[0], new String[] { "embedding" }), plain.source().fetchSource());
        assertFalse(PageState.load(context).sourceWidened());

        FetchSourceContext asked = new FetchSourceContext(true, new String[] { "title", "embedding" }, new String[0]);
        SearchRequest wants = WindowProcessors.window(100, List.of("embedding"))
            .processRequest(request(new SearchSourceBuilder().fetchSource(asked)), new PipelineProcessingContext());
        assertEquals(0, wants.source().fetchSource().excludes().length);
    }

    @Test
    void vectorsComeAsBinaryAndLeaveTheWindowSource() {
        PipelineProcessingContext context = new PipelineProcessingContext();
        SearchRequest plain = WindowProcessors.fetchingVectors(100, "embedding")
            .processRequest(request(new SearchSourceBuilder()), context);
        assertEquals(new FetchSourceContext(true, new String[0], new String[] { "embedding" }), plain.source().fetchSource());
        assertEquals(new VectorFetchExt("embedding"), VectorFetchExt.find(plain.source().ext()));
        assertFalse(PageState.load(context).sourceWidened());

        // The caller's own filter still gets widened, without the vector...
        FetchSourceContext title = new FetchSourceContext(true, new String[] { "title" }, new String[0]);
        SearchRequest filtered = WindowProcessors.fetchingVectors(100, "embedding")
            .processRequest(request(new SearchSourceBuilder().fetchSource(title)), new PipelineProcessingContext());
        assertEquals(new FetchSourceContext(true, new String[0], new String[] { "embedding" }), filtered.source().fetchSource());
        // ...unless they asked for the vector by name.
        FetchSourceContext asked = new FetchSourceContext(true, new String[] { "title", "embedding" }, new String[0]);
        SearchRequest wants = WindowProcessors.fetchingVectors(100, "embedding")
            .processRequest(request(new SearchSourceBuilder().fetchSource(asked)), new PipelineProcessingContext());
        assertEquals(FetchSourceContext.FETCH_SOURCE, wants.source().fetchSource());
        assertEquals(new VectorFetchExt("embedding"), VectorFetchExt.find(wants.source().ext()));

        // A skipped request (page beyond the window) is left alone.
        SearchRequest beyond = WindowProcessors.fetchingVectors(100, "embedding")
            .processRequest(request(new SearchSourceBuilder().from(95).size(10)), new PipelineProcessingContext());
        assertNull(VectorFetchExt.find(beyond.source().ext()));
    }

    @Test
    void factoryFetchesVectorsUnlessTheyAreExcluded() throws Exception {
        WindowRequestProcessor.Factory factory = new WindowRequestProcessor.Factory(NamedXContentRegistry.EMPTY);
        assertEquals("embedding", factory.create(Map.of(), "t", null, false, new HashMap<>(), null).fetchVectorsOf());
        Map<String, Object> vec = new HashMap<>(Map.of("vector_field", "vec"));
        assertEquals("vec", factory.create(Map.of(), "t", null, false, vec, null).fetchVectorsOf());
        Map<String, Object> excluded = new HashMap<>(Map.of("exclude_from_window", List.of("embedding")));
        assertNull(factory.create(Map.of(), "t", null, false, excluded, null).fetchVectorsOf());
        Map<String, Object> off = new HashMap<>(Map.of("fetch_vectors", false));
        assertNull(factory.create(Map.of(), "t", null, false, off, null).fetchVectorsOf());
        for (Map.Entry<String, Object> bad : List.of(Map.<String, Object>entry("vector_field", " "), Map.<String, Object>entry("fetch_vectors", "yes"))) {
            Map<String, Object> config = new HashMap<>(Map.of(bad.getKey(), bad.getValue()));
            OpenSearchException e = assertThrows(OpenSearchException.class, () -> factory.create(Map.of(), "t", null, false, config, null));
            assertTrue(e.getMessage().contains(bad.getKey()), e.getMessage());
        }
    }

    @Test
    void factoryValidatesWindow() throws Exception {
        WindowRequestProcessor.Factory factory = new WindowRequestProcessor.Factory(NamedXContentRegistry.EMPTY);
        Map<String, Object> config = new HashMap<>(Map.of("window_size", 50));
        assertEquals(50, factory.create(Map.of(), "t", null, false, config, null).windowSize());
        assertEquals(100, factory.create(Map.of(), "t", null, false, new HashMap<>(), null).windowSize());
        for (Object bad : List.of(0, 5000, "many")) {
            OpenSearchException e = assertThrows(
                OpenSearchException.class,
                () -> factory.create(Map.of(), "t", null, false, new HashMap<>(Map.of("window_size", bad)), null)
            );
            assertTrue(e.getMessage().contains("window_size"), e.getMessage());
        }
        Map<String, Object> badList = new HashMap<>(Map.of("exclude_from_window", List.of("embedding", 3)));
        OpenSearchException e = assertThrows(OpenSearchException.class, () -> factory.create(Map.of(), "t", null, false, badList, null));
        assertTrue(e.getMessage().contains("exclude_from_window"), e.getMessage());
    }

    @Test
    void leanWindowReadsDocValuesOnlyAndRemembersTheCallersSource() {
        FetchSourceContext caller = new FetchSourceContext(true, new String[] { "title" }, new String[0]);
        SearchSourceBuilder source = new SearchSourceBuilder().from(10).size(10).fetchSource(caller);
        PipelineProcessingContext context = new PipelineProcessingContext();
        SearchRequest out = WindowProcessors.lean(100, Map.of()).processRequest(request(source), context);
        assertEquals(100, out.source().size());
        assertFalse(out.source().fetchSource().fetchSource());
        assertFalse(out.source().storedFields().fetchFields(), "stored_fields: _none_ (no _id, no _source)");
        assertEquals(
            List.of("item_id", "category", "brand", "price", "title.raw", "popularity"),
            out.source().docValueFields().stream().map(f -> f.field).toList()
        );
        assertTrue(out.source().ext().stream().anyMatch(e -> e instanceof VectorFetchExt));
        assertEquals(new PageState(10, 10, 100, caller, false, null, LeanWindow.DEFAULTS), PageState.load(context));
    }

    @Test
    void requestsThatNeedTheFetchPhaseKeepTheOrdinaryWindow() {
        List<SearchSourceBuilder> needy = List.of(
            new SearchSourceBuilder().highlighter(new org.opensearch.search.fetch.subphase.highlight.HighlightBuilder().field("title")),
            new SearchSourceBuilder().storedField("title"),
            new SearchSourceBuilder().docValueField("price"),
            new SearchSourceBuilder().fetchField("title"),
            new SearchSourceBuilder().explain(true),
            new SearchSourceBuilder().version(true),
            new SearchSourceBuilder().sort("_score")
        );
        for (SearchSourceBuilder source : needy) {
            PipelineProcessingContext context = new PipelineProcessingContext();
            SearchRequest out = WindowProcessors.lean(100, Map.of()).processRequest(request(source.size(10)), context);
            assertEquals(100, out.source().size());
            PageState page = PageState.load(context);
            assertTrue(page.rerank());
            assertNull(page.lean(), source.toString());
        }
        PipelineProcessingContext context = new PipelineProcessingContext();
        WindowProcessors.lean(100, Map.of()).processRequest(request(new SearchSourceBuilder()).routing("r1"), context);
        assertNull(PageState.load(context).lean(), "a routed request: the page could not be read back by id");
    }

    @Test
    void leanFieldsOverrideTheDefaultsAndAreChecked() {
        WindowRequestProcessor window = WindowProcessors.lean(50, Map.of("lean_fields", Map.of("id", "sku", "title", "name.kw")));
        assertEquals(new LeanWindow("sku", "category", "brand", "price", "name.kw", "popularity"), window.lean());
        OpenSearchException unknown = assertThrows(
            OpenSearchException.class,
            () -> WindowProcessors.lean(50, Map.of("lean_fields", Map.of("sku", "x")))
        );
        assertTrue(unknown.getMessage().contains("unknown key [sku]"), unknown.getMessage());
        OpenSearchException blank = assertThrows(
            OpenSearchException.class,
            () -> WindowProcessors.lean(50, Map.of("lean_fields", Map.of("id", " ")))
        );
        assertTrue(blank.getMessage().contains("[id] must be a field name"), blank.getMessage());
        OpenSearchException off = assertThrows(
            OpenSearchException.class,
            () -> WindowProcessors.create(new HashMap<>(Map.of("lean_fields", Map.of("id", "sku"))))
        );
        assertTrue(off.getMessage().contains("needs [lean_window: true]"), off.getMessage());
        assertNull(WindowProcessors.window(100).lean(), "off by default");
    }
}
