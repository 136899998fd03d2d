package org.divrank.opensearch;

import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.search.SearchExtBuilder;

import java.io.IOException;
import java.util.List;
import java.util.Objects;

/**
 * {@code ext.divrank} in a search response: whether the page was re-ranked, and if not, why.
 *
 * <p>Registered as a plain named writeable, not as a request ext, so no request can carry it:
 * its writeable name differs from the request block's while its JSON key is the same.
 */
public final class DivrankResponseExt extends SearchExtBuilder {

    /** Writeable name (distinct from the request block {@link DivrankSearchExt#NAME}). */
    public static final String WRITEABLE_NAME = "divrank_response";

    private final boolean applied;
    private final boolean degraded;
    private final String reason;
    private final String strategy;
    private final Double diversity;
    private final String modelVersion;
    private final int window;
    private final long tookMs;
    private final long sidecarMs;

    /**
     * @param applied      the sidecar's order was applied
     * @param degraded     the sidecar failed and the engine order was returned (fail-open)
     * @param reason       short code for a degraded or skipped response, {@code null} otherwise
     * @param strategy     strategy used (the sidecar's answer, else the requested one)
     * @param diversity    diversity knob sent, {@code null} when nothing was sent
     * @param modelVersion sidecar fusion model version, may be {@code null}
     * @param window       hits considered for re-ranking
     * @param tookMs       time spent in the divrank response processor (ms)
     * @param sidecarMs    of which waiting for the sidecar (ms), 0 when it was not called
     */
    public DivrankResponseExt(
        boolean applied,
        boolean degraded,
        String reason,
        String strategy,
        Double diversity,
        String modelVersion,
        int window,
        long tookMs,
        long sidecarMs
    ) {
        this.applied = applied;
        this.degraded = degraded;
        this.reason = reason;
        this.strategy = strategy;
        this.diversity = diversity;
        this.modelVersion = modelVersion;
        this.window = window;
        this.tookMs = tookMs;
        this.sidecarMs = sidecarMs;
    }

    /** The block of a fail-open answer: engine order, {@code reason} says why. */
    static DivrankResponseExt degraded(String reason, Knobs knobs, int window, long tookMs, long sidecarMs) {
        return new DivrankResponseExt(false, true, reason, knobs.strategy().wireName(), knobs.diversity(), null, window, tookMs, sidecarMs);
    }

    /** Transport form. */
    public DivrankResponseExt(StreamInput in) throws IOException {
        this(
            in.readBoolean(),
            in.readBoolean(),
            in.readOptionalString(),
            in.readOptionalString(),
            in.readOptionalDouble(),
            in.readOptionalString(),
            in.readVInt(),
            in.readVLong(),
            in.readVLong()
        );
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        out.writeBoolean(applied);
        out.writeBoolean(degraded);
        out.writeOptionalString(reason);
        out.writeOptionalString(strategy);
        out.writeOptionalDouble(diversity);
        out.writeOptionalString(modelVersion);
        out.writeVInt(window);
        out.writeVLong(tookMs);
        out.writeVLong(sidecarMs);
    }

    @Override
    public String getWriteableName() {
        return WRITEABLE_NAME;
    }

    @Override
    public XContentBuilder toXContent(XContentBuilder builder, Params params) throws IOException {
        builder.startObject(DivrankSearchExt.NAME);
        builder.field("applied", applied);
        builder.field("degraded", degraded);
        builder.field("reason", reason);
        builder.field("strategy", strategy);
        builder.field("diversity", diversity);
        builder.field("model_version", modelVersion);
        builder.field("window", window);
        builder.field("took_ms", tookMs);
        builder.field("sidecar_ms", sidecarMs);
        return builder.endObject();
    }

    /** The divrank block among a response's ext builders, or {@code null}. */
    public static DivrankResponseExt find(List<SearchExtBuilder> builders) {
        if (builders == null) return null;
        for (SearchExtBuilder builder : builders) {
            if (builder instanceof DivrankResponseExt ext) return ext;
        }
        return null;
    }

    public boolean applied() {
        return applied;
    }

    public boolean degraded() {
        return degraded;
    }

    public String reason() {
        return reason;
    }

    public String strategy() {
        return strategy;
    }

    public Double diversity() {
        return diversity;
    }

    public String modelVersion() {
        return modelVersion;
    }

    public int window() {
        return window;
    }

    public long tookMs() {
        return tookMs;
    }

    public long sidecarMs() {
        return sidecarMs;
    }

    @Override
    public boolean equals(Object obj) {
        if (this == obj) return true;
        if (!(obj instanceof DivrankResponseExt o)) return false;
        return applied == o.applied
            && degraded == o.degraded
            && window == o.window
            && tookMs == o.tookMs
            && sidecarMs == o.sidecarMs
            && Objects.equals(reason, o.reason)
            && Objects.equals(strategy, o.strategy)
            && Objects.equals(diversity, o.diversity)
            && Objects.equals(modelVersion, o.modelVersion);
    }

    @Override
    public int hashCode() {
        return Objects.hash(applied, degraded, reason, strategy, diversity, modelVersion, window, tookMs, sidecarMs);
    }
}
