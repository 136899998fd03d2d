package org.divrank.opensearch;

import org.opensearch.common.xcontent.XContentHelper;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.MediaTypeRegistry;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.ToXContent;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.index.query.AbstractQueryBuilder;
import org.opensearch.index.query.QueryBuilder;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Float k-NN query vectors to int8 for an index written with {@code --storage byte}.
 *
 * <p>Why: a byte vector field only accepts integers in [-128, 127], so a frontend that sends
 * its embedding model's floats would have to quantise them itself. The field compares by
 * cosine, which ignores the scale, so each query vector is scaled on its own (largest
 * component to 127) and rounded: no index metadata is needed and precision is the best int8
 * gives. A vector that is already all integers is left as sent.
 */
final class ByteQueryVectors {

    private ByteQueryVectors() {}

    /**
     * The query with every {@code knn} clause on {@code field} quantised, or the very same
     * query when there is nothing to change (no such clause, or integers already).
     */
    static QueryBuilder quantise(QueryBuilder query, String field, NamedXContentRegistry registry) throws IOException {
        XContentBuilder json = JsonXContent.contentBuilder();
        query.toXContent(json, ToXContent.EMPTY_PARAMS);
        Map<String, Object> tree = XContentHelper.convertToMap(BytesReference.bytes(json), true, MediaTypeRegistry.JSON).v2();
        if (!rewrite(tree, field)) {
            return query;
        }
        XContentBuilder out = JsonXContent.contentBuilder().map(tree);
        try (
            XContentParser parser = JsonXContent.jsonXContent.createParser(
                registry, DeprecationHandler.THROW_UNSUPPORTED_OPERATION, BytesReference.bytes(out).streamInput()
            )
        ) {
            return AbstractQueryBuilder.parseInnerQueryBuilder(parser);
        }
    }

    /** Quantises, in place, the vectors of {@code knn} clauses on {@code field} anywhere in a parsed query; true if any changed. */
    @SuppressWarnings("unchecked")
    static boolean rewrite(Object node, String field) {
        boolean changed = false;
        if (node instanceof Map<?, ?> map) {
            Object knn = map.get("knn");
            if (knn instanceof Map<?, ?> clauses && clauses.get(field) instanceof Map<?, ?> clause
                && clause.get("vector") instanceof List<?> vector) {
                List<Integer> bytes = toBytes(vector);
                if (bytes != null) {
                    ((Map<String, Object>) clause).put("vector", bytes);
                    changed = true;
                }
            }
            for (Object child : map.values()) {
                changed |= rewrite(child, field);
            }
        } else if (node instanceof List<?> list) {
            for (Object child : list) {
                changed |= rewrite(child, field);
            }
        }
        return changed;
    }

    /** Round(v · 127 / max|v|) per component; null when the vector is integers already or not numbers. */
    static List<Integer> toBytes(List<?> vector) {
        double peak = 0.0;
        boolean integral = true;
        for (Object value : vector) {
            if (!(value instanceof Number number)) {
                return null;
            }
            double v = number.doubleValue();
            if (!Double.isFinite(v)) {
                return null;
            }
            peak = Math.max(peak, Math.abs(v));
            integral &= v == Math.rint(v);
        }
        if (integral) {
            return null;
        }
        List<Integer> out = new ArrayList<>(vector.size());
        for (Object value : vector) {
            out.add((int) Math.round(((Number) value).doubleValue() * 127.0 / peak));
        }
        return out;
    }
}
