package org.divrank.opensearch;

import org.opensearch.index.query.BoolQueryBuilder;
import org.opensearch.index.query.BoostingQueryBuilder;
import org.opensearch.index.query.ConstantScoreQueryBuilder;
import org.opensearch.index.query.DisMaxQueryBuilder;
import org.opensearch.index.query.MatchBoolPrefixQueryBuilder;
import org.opensearch.index.query.MatchPhrasePrefixQueryBuilder;
import org.opensearch.index.query.MatchPhraseQueryBuilder;
import org.opensearch.index.query.MatchQueryBuilder;
import org.opensearch.index.query.MultiMatchQueryBuilder;
import org.opensearch.index.query.QueryBuilder;
import org.opensearch.index.query.QueryStringQueryBuilder;
import org.opensearch.index.query.SimpleQueryStringBuilder;
import org.opensearch.index.query.functionscore.FunctionScoreQueryBuilder;
import org.opensearch.index.query.functionscore.ScriptScoreQueryBuilder;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Best-effort free text of a search, for the sidecar's intent detection (a query that names a
 * brand or category relaxes diversity on it). Walks the scoring clauses of common compound
 * queries and collects the text of full-text leaves; filters are ignored. Unknown query types
 * contribute nothing, so the worst case is "no intent detected".
 */
public final class QueryText {

    private static final int MAX_DEPTH = 16;
    private static final int MAX_CHARS = 1000;

    private QueryText() {}

    /** The collected text (distinct parts joined by a space), or {@code null} when there is none. */
    public static String of(QueryBuilder query) {
        Set<String> parts = new LinkedHashSet<>();
        collect(query, parts, 0);
        if (parts.isEmpty()) {
            return null;
        }
        String text = String.join(" ", parts).trim();
        if (text.isEmpty()) {
            return null;
        }
        return text.length() > MAX_CHARS ? text.substring(0, MAX_CHARS) : text;
    }

    private static void collect(QueryBuilder query, Set<String> parts, int depth) {
        if (query == null || depth > MAX_DEPTH) {
            return;
        }
        String leaf = leafText(query);
        if (leaf != null) {
            if (!leaf.isBlank()) {
                parts.add(leaf.trim());
            }
            return;
        }
        for (QueryBuilder child : children(query)) {
            collect(child, parts, depth + 1);
        }
    }

    private static String leafText(QueryBuilder query) {
        if (query instanceof MatchQueryBuilder q) return String.valueOf(q.value());
        if (query instanceof MultiMatchQueryBuilder q) return String.valueOf(q.value());
        if (query instanceof MatchPhraseQueryBuilder q) return String.valueOf(q.value());
        if (query instanceof MatchPhrasePrefixQueryBuilder q) return String.valueOf(q.value());
        if (query instanceof MatchBoolPrefixQueryBuilder q) return String.valueOf(q.value());
        if (query instanceof QueryStringQueryBuilder q) return q.queryString();
        if (query instanceof SimpleQueryStringBuilder q) return q.value();
        return null;
    }

    private static List<QueryBuilder> children(QueryBuilder query) {
        List<QueryBuilder> out = new ArrayList<>();
        if (query instanceof BoolQueryBuilder q) {
            out.addAll(q.must());
            out.addAll(q.should());
        } else if (query instanceof FunctionScoreQueryBuilder q) {
            out.add(q.query());
        } else if (query instanceof ScriptScoreQueryBuilder q) {
            out.add(q.query());
        } else if (query instanceof ConstantScoreQueryBuilder q) {
            out.add(q.innerQuery());
        } else if (query instanceof DisMaxQueryBuilder q) {
            out.addAll(q.innerQueries());
        } else if (query instanceof BoostingQueryBuilder q) {
            out.add(q.positiveQuery());
        }
        return out;
    }
}
