package org.divrank.opensearch;

import org.junit.jupiter.api.Test;
import org.opensearch.OpenSearchException;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.index.query.QueryBuilder;
import org.opensearch.index.query.QueryBuilders;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.search.pipeline.PipelineProcessingContext;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ByteQueryVectorsTests {

    @Test
    void floatsScaleToTheByteRangeByTheirLargestComponent() {
        assertEquals(List.of(64, -127, 32, 0), ByteQueryVectors.toBytes(List.of(0.1, -0.2, 0.05, 0.0)));
        assertNull(ByteQueryVectors.toBytes(List.of(3, -5, 0)), "integers are left as sent");
        assertNull(ByteQueryVectors.toBytes(List.of(0.5, "x")), "not a vector of numbers");
        assertNull(ByteQueryVectors.toBytes(List.of(0.5, Double.NaN)));
    }

    private static Map<String, Object> knn(String field, List<?> vector) {
        Map<String, Object> clause = new HashMap<>(Map.of("vector", new ArrayList<>(vector), "k", 5));
        return new HashMap<>(Map.of("knn", new HashMap<>(Map.of(field, clause))));
    }

    @SuppressWarnings("unchecked")
    private static Object vectorOf(Map<String, Object> knnQuery, String field) {
        return ((Map<String, Map<String, Object>>) knnQuery.get("knn")).get(field).get("vector");
    }

    @Test
    void knnClausesOnTheFieldAreQuantisedWhereverTheyAre() {
        Map<String, Object> mine = knn("embedding", List.of(0.5, -1.0));
        Map<String, Object> other = knn("other", List.of(0.5, 0.25));
        Map<String, Object> query = Map.of("bool", Map.of("should", List.of(mine, other)));
        assertTrue(ByteQueryVectors.rewrite(query, "embedding"));
        assertEquals(List.of(64, -127), vectorOf(mine, "embedding"));
        assertEquals(List.of(0.5, 0.25), vectorOf(other, "other"), "another field is not touched");
        assertFalse(ByteQueryVectors.rewrite(query, "embedding"), "quantised once");
    }

    @Test
    void aQueryWithoutKnnIsReturnedAsItIs() throws Exception {
        QueryBuilder match = QueryBuilders.matchQuery("title", "toner");
        assertSame(match, ByteQueryVectors.quantise(match, "embedding", NamedXContentRegistry.EMPTY));
    }

    @Test
    void theWindowProcessorQuantisesOnlyWhenConfigured() {
        WindowRequestProcessor on = WindowProcessors.create(Map.of("byte_query_vectors", true, "vector_field", "vec"));
        assertEquals("vec", on.byteQueryVectorsOf());
        assertNull(WindowProcessors.create(Map.of()).byteQueryVectorsOf());
        QueryBuilder match = QueryBuilders.matchQuery("title", "toner");
        SearchRequest request = new SearchRequest().source(new SearchSourceBuilder().query(match).size(10));
        assertSame(match, on.processRequest(request, new PipelineProcessingContext()).source().query());
        OpenSearchException e = assertThrows(
            OpenSearchException.class, () -> WindowProcessors.create(Map.of("byte_query_vectors", "yes"))
        );
        assertTrue(e.getMessage().contains("byte_query_vectors"), e.getMessage());
    }
}
