package org.divrank.opensearch;

import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.action.search.SearchResponse;
import org.opensearch.action.support.ContextPreservingActionListener;
import org.opensearch.common.util.concurrent.ThreadContext;
import org.opensearch.core.action.ActionListener;
import org.opensearch.search.SearchExtBuilder;
import org.opensearch.search.SearchHit;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.search.fetch.StoredFieldsContext;
import org.opensearch.search.fetch.subphase.FetchSourceContext;
import org.opensearch.search.pipeline.AbstractProcessor;
import org.opensearch.search.pipeline.PipelineProcessingContext;
import org.opensearch.search.pipeline.Processor;
import org.opensearch.search.pipeline.SearchResponseProcessor;

import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * {@code divrank}: posts the window of hits to the sidecar, applies the order it returns, and
 * cuts the caller's page out of it ({@link PageCutter}).
 *
 * <p>Asynchronous only ({@link #processResponseAsync}): the HTTP call never blocks a search
 * thread, and its completion runs on the node's executor, not on the HTTP client's threads; the
 * synchronous entry point refuses to run. Every path ends in exactly one listener call. When the
 * sidecar is down, late, or answers something that is not a valid order, the engine's order is
 * returned (fail-open, the default) with {@code ext.divrank.degraded=true}, or the search fails
 * with a clear error ({@code fail_open: false}); see {@link SidecarFailures}.
 */
public final class DivrankResponseProcessor extends AbstractProcessor implements SearchResponseProcessor {

    /** Processor type in a pipeline definition. */
    public static final String TYPE = "divrank";
    /** Per-hit explanation, under the hit's {@code fields}. */
    public static final String EXPLANATION_FIELD = "_divrank";

    /** How long a sidecar that failed at the transport level is skipped when others are up. */
    static final long SIDECAR_BACKOFF_MS = 5_000;

    private static final Logger LOG = LogManager.getLogger(DivrankResponseProcessor.class);

    private final ProcessorConfig config;
    private final SidecarPool sidecar;
    private final DivrankStats stats;
    private final ThreadContext threadContext;
    private final Executor executor;
    private final PageSources pageSources;

    private DivrankResponseProcessor(
        String tag,
        String description,
        boolean ignoreFailure,
        ProcessorConfig config,
        SidecarPool sidecar,
        DivrankStats stats,
        ThreadContext threadContext,
        Executor executor,
        PageSources pageSources
    ) {
        super(tag, description, ignoreFailure);
        this.config = config;
        this.sidecar = sidecar;
        this.stats = stats;
        this.threadContext = threadContext;
        this.executor = executor;
        this.pageSources = pageSources;
    }

    @Override
    public String getType() {
        return TYPE;
    }

    ProcessorConfig config() {
        return config;
    }

    SidecarPool sidecar() {
        return sidecar;
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
            SearchHit[] engineWindow = response.getHits().getHits();
            PageState page = PageState.load(context);
            if (page == null) {
                // No divrank_window before us: the hits are the page; re-rank them in place.
                page = new PageState(0, engineWindow.length, engineWindow.length, null, false, null);
            }
            if (!page.rerank()) {
                stats.skipped(page.skipReason());
                listener.onResponse(
                    ResponsePage.rebuild(
                        response,
                        engineWindow,
                        new DivrankResponseExt(false, false, page.skipReason(), null, null, null, 0, 0, 0)
                    )
                );
                return;
            }
            final PageState state = page;
            SearchSourceBuilder source = request.source();
            DivrankSearchExt ext = source == null ? null : DivrankSearchExt.find(source.ext());
            final Knobs knobs = config.defaults().with(ext);
            final SearchHit[] window = state.lean() == null ? engineWindow : state.lean().identify(engineWindow);
            if (window == null) {
                rerunWithoutIds(request, state, knobs, started, listener);
                return;
            }
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
                    config.fields(),
                    indexOf(window, request),
                    source == null ? null : QueryText.of(source.query()),
                    ext == null ? null : ext.userId(),
                    ext == null ? null : ext.historyItemIds(),
                    knobs,
                    picks(state, window.length),
                    Math.max(1, Math.min(state.size(), window.length)),
                    state.lean()
                );
            } catch (SidecarFailure failure) {
                fallback(response, window, state, knobs, failure, started, 0, Map.of(), listener);
                return;
            }
            final RerankBody.Built built = body;
            final long sent = System.nanoTime();
            // The client runs this completion in its own task on the node's executor
            // (SidecarClient): a second hand-off would only add a thread wake-up.
            sidecar.rerank(body.json(), body.ids(), (reply, error) -> {
                try {
                    long waited = System.nanoTime() - sent;
                    if (error != null && SidecarFailures.unwrap(error) instanceof RejectedExecutionException rejected) {
                        listener.onFailure(rejected); // the executor refused the completion: node closing
                    } else if (error != null) {
                        stats.sidecarCall(waited);
                        fallback(response, window, state, knobs, SidecarFailures.of(error), started, waited, built.scanned(), listener);
                    } else {
                        stats.reranked(waited);
                        reorder(response, window, state, knobs, reply, started, waited, built.scanned(), listener);
                    }
                } catch (Exception e) {
                    listener.onFailure(e);
                }
            });
        } catch (Exception e) {
            listener.onFailure(e);
        }
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
        SidecarFailures.count(stats, failure, config.failOpen());
        if (!config.failOpen()) {
            listener.onFailure(SidecarFailures.failClosed(failure));
            return;
        }
        LOG.debug("divrank degraded to engine order: {}", failure.getMessage());
        SearchHit[] hits = PageCutter.cut(Arrays.asList(window), page, config.fields().embedding(), null, knobs.explain(), scanned);
        DivrankResponseExt ext = DivrankResponseExt.degraded(
            failure.reason(),
            knobs,
            window.length,
            elapsedMs(started),
            sidecarNanos / 1_000_000L
        );
        finish(response, hits, ext, page, started, listener);
    }

    private void reorder(
        SearchResponse response,
        SearchHit[] window,
        PageState page,
        Knobs knobs,
        SidecarReply reply,
        long started,
        long sidecarNanos,
        Map<String, SourceScan.Features> scanned,
        ActionListener<SearchResponse> listener
    ) throws IOException {
        List<SearchHit> order = PageCutter.inSidecarOrder(window, reply);
        SearchHit[] hits = PageCutter.cut(order, page, config.fields().embedding(), reply, knobs.explain(), scanned);
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
        finish(response, hits, ext, page, started, listener);
    }

    /** Answers with the page; a lean window's page first gets its {@code _source}s. */
    private void finish(
        SearchResponse response,
        SearchHit[] hits,
        DivrankResponseExt ext,
        PageState page,
        long started,
        ActionListener<SearchResponse> listener
    ) {
        if (page.lean() == null) {
            respond(response, hits, ext, started, listener);
            return;
        }
        for (SearchHit hit : hits) {
            page.lean().strip(hit);
        }
        pageSources.fill(hits, pageSource(page), ActionListener.wrap(filled -> {
            stats.leanPage();
            respond(response, filled, ext, started, listener);
        }, listener::onFailure));
    }

    private void respond(SearchResponse response, SearchHit[] hits, DivrankResponseExt ext, long started, ActionListener<SearchResponse> listener) {
        SearchResponse answer = ResponsePage.rebuild(response, hits, ext);
        stats.processed(System.nanoTime() - started);
        listener.onResponse(answer);
    }

    /** The caller's {@code _source} filter for the page, leaving the vector out unless they include fields. */
    private FetchSourceContext pageSource(PageState page) {
        FetchSourceContext caller = page.callerSource();
        String[] embedding = { config.fields().embedding() };
        if (caller == null) {
            return new FetchSourceContext(true, new String[0], embedding);
        }
        if (!caller.fetchSource() || caller.includes().length > 0) {
            return caller;
        }
        String[] excludes = Arrays.copyOf(caller.excludes(), caller.excludes().length + 1);
        excludes[excludes.length - 1] = embedding[0];
        return new FetchSourceContext(true, caller.includes(), excludes);
    }

    /**
     * A lean window whose hits carry no id (an index written without the id field, e.g. after a
     * rollback to an older index) cannot be re-ranked nor its page read back: the caller's search
     * runs again as they sent it, outside the pipeline (engine order, degraded), or fails with
     * {@code fail_open: false}.
     */
    private void rerunWithoutIds(SearchRequest request, PageState page, Knobs knobs, long started, ActionListener<SearchResponse> listener) {
        SidecarFailure failure = new SidecarFailure(
            "lean_window_no_id",
            "window hits carry no [" + page.lean().id() + "] doc value; index them with it or set lean_window: false"
        );
        SidecarFailures.count(stats, failure, config.failOpen());
        if (!config.failOpen()) {
            listener.onFailure(SidecarFailures.failClosed(failure));
            return;
        }
        SearchSourceBuilder source = request.source().shallowCopy();
        source.from(page.from()).size(page.size()).fetchSource(page.callerSource());
        source.storedFields((StoredFieldsContext) null);
        if (source.docValueFields() != null) {
            source.docValueFields().removeIf(f -> page.lean().fields().contains(f.field));
        }
        List<SearchExtBuilder> exts = new ArrayList<>(source.ext());
        exts.removeIf(e -> e instanceof VectorFetchExt);
        source.ext(exts);
        SearchRequest again = new SearchRequest(request).source(source).pipeline(PageSources.NO_PIPELINE);
        pageSources.search(again, ActionListener.wrap(engine -> {
            DivrankResponseExt ext = DivrankResponseExt.degraded(failure.reason(), knobs, 0, elapsedMs(started), 0);
            respond(engine, engine.getHits().getHits(), ext, started, listener);
        }, listener::onFailure));
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

    /**
     * How many the sidecar ranks: the window up to the end of the caller's page. The rest keeps
     * engine order behind it and is never shown; with {@code page_size} = the caller's size the
     * first picks are the earlier pages', so consecutive pages neither overlap nor skip.
     */
    static int picks(PageState page, int windowLength) {
        return Math.max(1, Math.min(windowLength, page.from() + page.size()));
    }

    private static long elapsedMs(long startedNanos) {
        return (System.nanoTime() - startedNanos) / 1_000_000L;
    }

    /** Builds the processor from its pipeline config ({@link ProcessorConfig}) and the node's shared pieces. */
    public static final class Factory implements Processor.Factory<SearchResponseProcessor> {
        private final IntFunction<CloseableHttpClient> clients;
        private final Supplier<String> token;
        private final DivrankStats stats;
        private final ThreadContext threadContext;
        private final SidecarPolicy policy;
        private final Executor executor;
        private final DeadlineTimer timer;
        private final PageSources pageSources;

        /**
         * @param clients       shared HTTP client per connect timeout
         * @param token         bearer token from the keystore, may supply {@code null}
         * @param stats         node-local counters
         * @param threadContext node thread context, restored when the listener is called ({@code null} in unit tests)
         * @param policy        node-level sidecar host allow-list and reply cap
         * @param executor      node thread pool that makes the sidecar call and runs its completion (the generic pool)
         * @param timer         aborts a sidecar call at its hard deadline (the node's scheduler)
         * @param pageSources   reads a lean window's page (the node's client)
         */
        public Factory(
            IntFunction<CloseableHttpClient> clients,
            Supplier<String> token,
            DivrankStats stats,
            ThreadContext threadContext,
            SidecarPolicy policy,
            Executor executor,
            DeadlineTimer timer,
            PageSources pageSources
        ) {
            this.clients = clients;
            this.token = token;
            this.stats = stats;
            this.threadContext = threadContext;
            this.policy = policy;
            this.executor = executor;
            this.timer = timer;
            this.pageSources = pageSources;
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
            ProcessorConfig parsed = ProcessorConfig.parse(tag, config, policy);
            List<SidecarClient> sidecars = new ArrayList<>();
            for (URI base : parsed.sidecarUrls()) {
                CloseableHttpClient http = clients.apply(parsed.connectMs());
                sidecars.add(
                    new SidecarClient(http, base, parsed.connectMs(), parsed.readMs(), token, policy.maxReplyBytes(), executor, timer)
                );
            }
            SidecarPool pool = new SidecarPool(sidecars, SIDECAR_BACKOFF_MS, System::currentTimeMillis);
            return new DivrankResponseProcessor(tag, description, ignoreFailure, parsed, pool, stats, threadContext, executor, pageSources);
        }
    }
}
