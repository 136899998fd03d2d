package org.divrank.opensearch;

/**
 * The knobs sent to the sidecar: the request's {@code ext.divrank} over the pipeline defaults.
 *
 * @param diversity      0 = relevance/personalization only, 1 = most diverse
 * @param strategy       sidecar strategy
 * @param explain        whether per-hit explanations are asked for
 * @param maxPerBrand    optional cap per brand, {@code null} = sidecar default
 * @param maxPerCategory optional cap per category, {@code null} = sidecar default
 * @param relevanceModel whether the sidecar's learned relevance model ranks, {@code null} = sidecar default
 */
public record Knobs(double diversity, Strategy strategy, boolean explain, Integer maxPerBrand, Integer maxPerCategory, Boolean relevanceModel) {

    /** Applies the request's overrides (any of them may be absent) to these defaults. */
    public Knobs with(DivrankSearchExt ext) {
        if (ext == null) {
            return this;
        }
        return new Knobs(
            ext.diversity() != null ? ext.diversity() : diversity,
            ext.strategy() != null ? ext.strategy() : strategy,
            ext.explain() != null ? ext.explain() : explain,
            ext.maxPerBrand() != null ? ext.maxPerBrand() : maxPerBrand,
            ext.maxPerCategory() != null ? ext.maxPerCategory() : maxPerCategory,
            ext.relevanceModel() != null ? ext.relevanceModel() : relevanceModel
        );
    }
}
