package org.divrank.opensearch;

import org.opensearch.core.xcontent.ToXContentObject;
import org.opensearch.core.xcontent.XContentBuilder;

import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Node-local counters of the divrank response processor, served by
 * {@code GET _plugins/divrank/stats}: operators see degraded (fail-open) responses per reason
 * without reading logs.
 */
public final class DivrankStats implements ToXContentObject {

    private final LongAdder requests = new LongAdder();
    private final LongAdder reranked = new LongAdder();
    private final LongAdder skipped = new LongAdder();
    private final LongAdder degraded = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder sidecarCalls = new LongAdder();
    private final LongAdder sidecarMicros = new LongAdder();
    private final LongAdder processedCalls = new LongAdder();
    private final LongAdder processedMicros = new LongAdder();
    private final LongAdder leanPages = new LongAdder();
    private final Map<String, LongAdder> degradedByReason = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> skippedByReason = new ConcurrentHashMap<>();

    void request() {
        requests.increment();
    }

    void reranked(long sidecarNanos) {
        reranked.increment();
        sidecarCall(sidecarNanos);
    }

    void sidecarCall(long nanos) {
        sidecarCalls.increment();
        sidecarMicros.add(nanos / 1000);
    }

    /** Time in the processor for a search it re-ranked or failed open, sidecar call included. */
    void processed(long nanos) {
        processedCalls.increment();
        processedMicros.add(nanos / 1000);
    }

    /** A page read back after re-ranking a lean window (doc values only). */
    void leanPage() {
        leanPages.increment();
    }

    public long leanPages() {
        return leanPages.sum();
    }

    void skipped(String reason) {
        skipped.increment();
        skippedByReason.computeIfAbsent(reason, r -> new LongAdder()).increment();
    }

    void degraded(String reason) {
        degraded.increment();
        degradedByReason.computeIfAbsent(reason, r -> new LongAdder()).increment();
    }

    void failed(String reason) {
        failed.increment();
        degradedByReason.computeIfAbsent(reason, r -> new LongAdder()).increment();
    }

    public long requests() {
        return requests.sum();
    }

    public long reranked() {
        return reranked.sum();
    }

    public long skipped() {
        return skipped.sum();
    }

    public long degraded() {
        return degraded.sum();
    }

    public long failed() {
        return failed.sum();
    }

    /** Mean wait for the sidecar per call, in ms (0 before any call). */
    public double sidecarMeanMs() {
        long calls = sidecarCalls.sum();
        return calls == 0 ? 0.0 : sidecarMicros.sum() / 1000.0 / calls;
    }

    /**
     * Mean time in the processor per search it re-ranked or failed open (body, call, page cut), in
     * ms: minus {@link #sidecarMeanMs()} it is what the node itself spends on divrank.
     */
    public double processorMeanMs() {
        long calls = processedCalls.sum();
        return calls == 0 ? 0.0 : processedMicros.sum() / 1000.0 / calls;
    }

    /** Degraded or failed responses for one reason code. */
    public long degradedFor(String reason) {
        LongAdder counter = degradedByReason.get(reason);
        return counter == null ? 0 : counter.sum();
    }

    @Override
    public XContentBuilder toXContent(XContentBuilder builder, Params params) throws IOException {
        builder.startObject();
        builder.field("requests", requests.sum());
        builder.field("reranked", reranked.sum());
        builder.field("skipped", skipped.sum());
        builder.field("degraded", degraded.sum());
        builder.field("failed", failed.sum());
        builder.field("sidecar_calls", sidecarCalls.sum());
        builder.field("sidecar_mean_ms", sidecarMeanMs());
        builder.field("processed", processedCalls.sum());
        builder.field("processor_mean_ms", processorMeanMs());
        builder.field("lean_pages", leanPages.sum());
        builder.field("degraded_by_reason", snapshot(degradedByReason));
        builder.field("skipped_by_reason", snapshot(skippedByReason));
        return builder.endObject();
    }

    private static Map<String, Long> snapshot(Map<String, LongAdder> counters) {
        Map<String, Long> out = new TreeMap<>();
        counters.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }
}
