package org.divrank.opensearch;

import org.opensearch.search.fetch.subphase.FetchSourceContext;
import org.opensearch.search.pipeline.PipelineProcessingContext;

/**
 * What the request processor remembers for the response processor: the page the caller asked
 * for inside the widened window, and the caller's own {@code _source} filter.
 *
 * <p>Stored in {@link PipelineProcessingContext} under {@code divrank.*} keys so other
 * processors in the same pipeline cannot collide with it.
 *
 * @param from          caller's {@code from} (0 when absent)
 * @param size          caller's {@code size} (10 when absent)
 * @param window        number of hits fetched for re-ranking (0 when the page was not widened)
 * @param callerSource  caller's {@code _source} filter, {@code null} when they sent none
 * @param sourceWidened whether the request processor replaced the caller's filter to fetch the
 *                      fields the sidecar needs; the response then re-applies {@code callerSource}
 * @param skipReason    why this request is passed through untouched, {@code null} when re-ranked
 * @param lean          the doc-value fields the window was read from ({@link LeanWindow}), {@code null}
 *                      when it was read with its stored fields
 */
public record PageState(
    int from,
    int size,
    int window,
    FetchSourceContext callerSource,
    boolean sourceWidened,
    String skipReason,
    LeanWindow lean
) {

    static final String FROM = "divrank.from";
    static final String SIZE = "divrank.size";
    static final String WINDOW = "divrank.window";
    static final String CALLER_SOURCE = "divrank.caller_source";
    static final String SOURCE_WIDENED = "divrank.source_widened";
    static final String SKIP = "divrank.skip";
    static final String LEAN = "divrank.lean";

    /** Default page size of a search without {@code size}. */
    public static final int DEFAULT_SIZE = 10;

    /** A window read with its stored fields. */
    public PageState(int from, int size, int window, FetchSourceContext callerSource, boolean sourceWidened, String skipReason) {
        this(from, size, window, callerSource, sourceWidened, skipReason, null);
    }

    /** Writes this state into the request's processing context. */
    public void store(PipelineProcessingContext context) {
        context.setAttribute(FROM, from);
        context.setAttribute(SIZE, size);
        context.setAttribute(WINDOW, window);
        context.setAttribute(CALLER_SOURCE, callerSource);
        context.setAttribute(SOURCE_WIDENED, sourceWidened);
        context.setAttribute(SKIP, skipReason);
        context.setAttribute(LEAN, lean);
    }

    /** Reads the state, or {@code null} when no divrank_window processor ran for this request. */
    public static PageState load(PipelineProcessingContext context) {
        if (context == null || !(context.getAttribute(FROM) instanceof Integer from)) {
            return null;
        }
        int size = context.getAttribute(SIZE) instanceof Integer s ? s : DEFAULT_SIZE;
        int window = context.getAttribute(WINDOW) instanceof Integer w ? w : 0;
        FetchSourceContext source = context.getAttribute(CALLER_SOURCE) instanceof FetchSourceContext f ? f : null;
        boolean widened = Boolean.TRUE.equals(context.getAttribute(SOURCE_WIDENED));
        String skip = context.getAttribute(SKIP) instanceof String reason ? reason : null;
        LeanWindow lean = context.getAttribute(LEAN) instanceof LeanWindow l ? l : null;
        return new PageState(from, size, window, source, widened, skip, lean);
    }

    /** Whether the response processor should re-rank (the page lies inside the window). */
    public boolean rerank() {
        return skipReason == null;
    }
}
