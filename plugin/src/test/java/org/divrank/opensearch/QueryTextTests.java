package org.divrank.opensearch;

import org.junit.jupiter.api.Test;
import org.opensearch.index.query.QueryBuilders;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class QueryTextTests {

    @Test
    void collectsScoringTextAndIgnoresFilters() {
        var query = QueryBuilders.boolQuery()
            .must(QueryBuilders.multiMatchQuery("hp toner", "title", "description"))
            .should(QueryBuilders.matchQuery("title", "cartridge"))
            .filter(QueryBuilders.termQuery("brand", "canon"));
        assertEquals("hp toner cartridge", QueryText.of(query));
    }

    @Test
    void unwrapsFunctionScoreAndDisMax() {
        var query = QueryBuilders.functionScoreQuery(
            QueryBuilders.disMaxQuery().add(QueryBuilders.simpleQueryStringQuery("usb cable")).add(QueryBuilders.matchPhraseQuery("t", "usb cable"))
        );
        assertEquals("usb cable", QueryText.of(query));
    }

    @Test
    void nothingForNonTextQueries() {
        assertNull(QueryText.of(QueryBuilders.matchAllQuery()));
        assertNull(QueryText.of(null));
        assertNull(QueryText.of(QueryBuilders.termQuery("brand", "hp")));
    }
}
