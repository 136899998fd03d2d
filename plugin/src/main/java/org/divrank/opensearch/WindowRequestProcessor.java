package org.divrank.opensearch;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.ingest.ConfigurationUtils;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.search.fetch.subphase.FetchSourceContext;
import org.opensearch.search.pipeline.AbstractProcessor;
import org.opensearch.search.pipeline.PipelineProcessingContext;
import org.opensearch.search.pipeline.Processor;
import org.opensearch.search.pipeline.SearchRequestProcessor;
import org.opensearch.search.sort.ScoreSortBuilder;
import org.opensearch.search.sort.SortBuilder;
import org.opensearch.search.sort.SortOrder;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * {@code divrank_window}: widens the search to the re-ranking window ({@code from=0},
 * {@code size=window_size}) and remembers the caller's page in the processing context.
 *
 * <p>Pages are cut from the same re-ranked window, so paging through it never repeats or skips
 * a hit. A page that reaches past the window, scrolls, {@code search_after} and explicit
 * non-score sorts are passed through untouched: re-ranking them would contradict what the
 * caller asked for.
 *
 * <p>{@code exclude_from_window} names {@code _source} fields the window fetch leaves out (e.g.
 * the embedding when the response processor runs with {@code send_embeddings: false}) unless the
 * caller asked for them by name.
 *
 * <p>With {@code fetch_vectors} (the default unless {@code vector_field} is excluded from the
 * window) the window's vectors come as binary through {@link VectorFetchPhase} and the vector
 * field is left out of the window's {@code _source}: the engine then does not print 100 vectors
 * as JSON text that this plugin and the sidecar would parse again.
 *
 * <p>With {@code lean_window: true} the window is read from doc values alone, and the page's
 * {@code _source}s after re-ranking ({@link LeanWindow}); requests that need more of the fetch
 * phase keep the ordinary window.
 *
 * <p>With {@code byte_query_vectors: true} (an index written with {@code --storage byte}) float
 * k-NN query vectors on {@code vector_field} are quantised to int8 ({@link ByteQueryVectors}),
 * on every request, re-ranked or not: the frontend sends its embedding model's floats as ever.
 */
public final class WindowRequestProcessor extends AbstractProcessor implements SearchRequestProcessor {

    /** Processor type in a pipeline definition. */
    public static final String TYPE = "divrank_window";
    static final String WINDOW_SIZE = "window_size";
    static final String EXCLUDE_FROM_WINDOW = "exclude_from_window";
    static final String VECTOR_FIELD = "vector_field";
    static final String FETCH_VECTORS = "fetch_vectors";
    static final String BYTE_QUERY_VECTORS = "byte_query_vectors";
    private static final Logger LOG = LogManager.getLogger(WindowRequestProcessor.class);
    /** Default number of hits re-ranked. */
    public static final int DEFAULT_WINDOW = 100;

    private final int windowSize;
    private final List<String> excludeFromWindow;
    /** Vector field read through {@link VectorFetchPhase}, {@code null} when vectors are not fetched. */
    private final String fetchVectorsOf;
    /** Doc-value fields of a lean window, {@code null} when the window reads stored fields. */
    private final LeanWindow lean;
    /** Vector field whose k-NN query vectors are quantised to int8, {@code null} for none. */
    private final String byteQueryVectorsOf;
    private final NamedXContentRegistry registry;

    private WindowRequestProcessor(
        String tag,
        String description,
        boolean ignoreFailure,
        int windowSize,
        List<String> exclude,
        String fetchVectorsOf,
        LeanWindow lean,
        String byteQueryVectorsOf,
        NamedXContentRegistry registry
    ) {
        super(tag, description, ignoreFailure);
        this.windowSize = windowSize;
        this.excludeFromWindow = List.copyOf(exclude);
        this.fetchVectorsOf = fetchVectorsOf;
        this.lean = lean;
        this.byteQueryVectorsOf = byteQueryVectorsOf;
        this.registry = registry;
    }

    String byteQueryVectorsOf() {
        return byteQueryVectorsOf;
    }

    LeanWindow lean() {
        return lean;
    }

    String fetchVectorsOf() {
        return fetchVectorsOf;
    }

    @Override
    public String getType() {
        return TYPE;
    }

    int windowSize() {
        return windowSize;
    }

    @Override
    public SearchRequest processRequest(SearchRequest request) {
        throw new UnsupportedOperationException(TYPE + " needs the pipeline processing context");
    }

    @Override
    public SearchRequest processRequest(SearchRequest request, PipelineProcessingContext context) {
        SearchSourceBuilder source = request.source();
        if (source == null) {
            source = new SearchSourceBuilder();
            request.source(source);
        }
        if (byteQueryVectorsOf != null && source.query() != null) {
            try {
                source.query(ByteQueryVectors.quantise(source.query(), byteQueryVectorsOf, registry));
            } catch (IOException | RuntimeException e) {
                // the query goes as sent; the engine names what it cannot take
                LOG.debug("divrank_window: k-NN query vectors left as sent: {}", e.getMessage());
            }
        }
        int from = Math.max(source.from(), 0);
        int size = source.size() < 0 ? PageState.DEFAULT_SIZE : source.size();
        DivrankSearchExt ext = DivrankSearchExt.find(source.ext());
        int window = ext != null && ext.windowSize() != null ? ext.windowSize() : windowSize;

        String skip = skipReason(request, source, from, size, window);
        if (skip != null) {
            new PageState(from, size, 0, source.fetchSource(), false, skip).store(context);
            return request;
        }
        FetchSourceContext callerSource = source.fetchSource();
        LeanWindow leanHere = lean != null && LeanWindow.ineligible(request, source) == null ? lean : null;
        boolean widen = leanHere == null
            && callerSource != null
            && (!callerSource.fetchSource() || callerSource.includes().length > 0 || callerSource.excludes().length > 0);
        List<String> exclude = windowExcludes();
        if (leanHere != null) {
            leanHere.applyTo(source); // the caller's _source filter is replayed on the page's read-back
        } else if (widen) {
            // The sidecar needs embedding/category/brand/price from _source; the response
            // re-applies the caller's filter to the page.
            source.fetchSource(windowSource(callerSource, exclude));
        } else if (!exclude.isEmpty()) {
            source.fetchSource(windowSource(null, exclude));
        }
        if (fetchVectorsOf != null) {
            source.ext(new VectorFetchExt(fetchVectorsOf).addTo(source.ext()));
        }
        new PageState(from, size, window, callerSource, widen, null, leanHere).store(context);
        source.from(0);
        source.size(window);
        return request;
    }

    private List<String> windowExcludes() {
        if (fetchVectorsOf == null || excludeFromWindow.contains(fetchVectorsOf)) {
            return excludeFromWindow;
        }
        List<String> all = new ArrayList<>(excludeFromWindow);
        all.add(fetchVectorsOf);
        return all;
    }

    private static FetchSourceContext windowSource(FetchSourceContext caller, List<String> exclude) {
        if (exclude.isEmpty()) {
            return FetchSourceContext.FETCH_SOURCE;
        }
        List<String> asked = caller == null ? List.of() : Arrays.asList(caller.includes());
        String[] excludes = exclude.stream().filter(f -> !asked.contains(f)).toArray(String[]::new);
        return excludes.length == 0 ? FetchSourceContext.FETCH_SOURCE : new FetchSourceContext(true, new String[0], excludes);
    }

    private static String skipReason(SearchRequest request, SearchSourceBuilder source, int from, int size, int window) {
        if (request.scroll() != null) return "scroll";
        if (size == 0) return "size_zero";
        if (source.searchAfter() != null && source.searchAfter().length > 0) return "search_after";
        if (!scoreOrder(source.sorts())) return "explicit_sort";
        if ((long) from + size > window) return "page_beyond_window";
        return null;
    }

    private static boolean scoreOrder(List<SortBuilder<?>> sorts) {
        if (sorts == null || sorts.isEmpty()) {
            return true;
        }
        return sorts.size() == 1 && sorts.get(0) instanceof ScoreSortBuilder score && score.order() == SortOrder.DESC;
    }

    /** Reads {@code window_size} (1 … {@value DivrankSearchExt#MAX_WINDOW}), the fetch exclusions, the vector fetch and the lean window. */
    public static final class Factory implements Processor.Factory<SearchRequestProcessor> {
        private final NamedXContentRegistry registry;

        /** @param registry parses a quantised query back (it knows the k-NN plugin's {@code knn}) */
        public Factory(NamedXContentRegistry registry) {
            this.registry = registry;
        }

        @Override
        public WindowRequestProcessor create(
            Map<String, Processor.Factory<SearchRequestProcessor>> processorFactories,
            String tag,
            String description,
            boolean ignoreFailure,
            Map<String, Object> config,
            PipelineContext pipelineContext
        ) {
            int window = ConfigurationUtils.readIntProperty(TYPE, tag, config, WINDOW_SIZE, DEFAULT_WINDOW);
            if (window < 1 || window > DivrankSearchExt.MAX_WINDOW) {
                throw ConfigurationUtils.newConfigurationException(
                    TYPE, tag, WINDOW_SIZE, "must be in [1, " + DivrankSearchExt.MAX_WINDOW + "], got " + window
                );
            }
            List<Object> raw = ConfigurationUtils.readOptionalList(TYPE, tag, config, EXCLUDE_FROM_WINDOW);
            List<String> exclude = new ArrayList<>();
            if (raw != null) {
                for (Object field : raw) {
                    if (!(field instanceof String name) || name.isBlank()) {
                        throw ConfigurationUtils.newConfigurationException(
                            TYPE, tag, EXCLUDE_FROM_WINDOW, "must be a list of field names, got [" + field + "]"
                        );
                    }
                    exclude.add(name);
                }
            }
            String vectorField = ConfigurationUtils.readStringProperty(TYPE, tag, config, VECTOR_FIELD, CandidateFields.DEFAULTS.embedding());
            if (vectorField.isBlank()) {
                throw ConfigurationUtils.newConfigurationException(TYPE, tag, VECTOR_FIELD, "must be a non-empty field name");
            }
            // Vectors excluded from the window (send_embeddings: false) are not wanted at all.
            boolean fetch = ConfigurationUtils.readBooleanProperty(TYPE, tag, config, FETCH_VECTORS, !exclude.contains(vectorField));
            LeanWindow lean = LeanWindow.parse(TYPE, tag, config);
            boolean bytes = ConfigurationUtils.readBooleanProperty(TYPE, tag, config, BYTE_QUERY_VECTORS, false);
            return new WindowRequestProcessor(
                tag, description, ignoreFailure, window, exclude, fetch ? vectorField : null, lean,
                bytes ? vectorField : null, registry
            );
        }
    }
}
