package org.divrank.opensearch;

import org.opensearch.action.search.SearchResponse;
import org.opensearch.action.search.SearchResponseSections;
import org.opensearch.search.SearchExtBuilder;
import org.opensearch.search.SearchHit;
import org.opensearch.search.SearchHits;
import org.opensearch.search.profile.SearchProfileShardResults;

import java.util.ArrayList;
import java.util.List;

/**
 * Rebuilds a search response around a new page of hits, keeping everything else: total hits,
 * max score, sort/collapse info, aggregations, suggest, profile, other ext builders, processor
 * results, took and phase took, shard counts and failures, scroll and PIT ids. Core's
 * {@code SearchResponseUtil} would drop the ext builders.
 */
public final class ResponsePage {

    private ResponsePage() {}

    private static SearchProfileShardResults profile(SearchResponse original) {
        // An empty map would print an empty "profile" section that the engine did not send.
        return original.getProfileResults() == null || original.getProfileResults().isEmpty()
            ? null
            : new SearchProfileShardResults(original.getProfileResults());
    }

    /**
     * @param original response from the engine (or a previous processor)
     * @param page     hits to return, in order
     * @param ext      divrank block for {@code ext.divrank}; replaces an earlier one
     */
    public static SearchResponse rebuild(SearchResponse original, SearchHit[] page, DivrankResponseExt ext) {
        SearchHits oldHits = original.getHits();
        SearchHits hits = new SearchHits(
            page,
            oldHits.getTotalHits(),
            oldHits.getMaxScore(),
            oldHits.getSortFields(),
            oldHits.getCollapseField(),
            oldHits.getCollapseValues()
        );
        SearchResponseSections sections = original.getInternalResponse();
        List<SearchExtBuilder> exts = new ArrayList<>();
        if (sections.getSearchExtBuilders() != null) {
            for (SearchExtBuilder builder : sections.getSearchExtBuilders()) {
                if (!(builder instanceof DivrankResponseExt)) {
                    exts.add(builder);
                }
            }
        }
        exts.add(ext);
        SearchResponseSections rebuilt = new SearchResponseSections(
            hits,
            original.getAggregations(),
            original.getSuggest(),
            original.isTimedOut(),
            original.isTerminatedEarly(),
            profile(original),
            original.getNumReducePhases(),
            exts,
            sections.getProcessorResult()
        );
        return new SearchResponse(
            rebuilt,
            original.getScrollId(),
            original.getTotalShards(),
            original.getSuccessfulShards(),
            original.getSkippedShards(),
            original.getTook().millis(),
            original.getPhaseTook(),
            original.getShardFailures(),
            original.getClusters(),
            original.pointInTimeId()
        );
    }
}
