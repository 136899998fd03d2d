package org.divrank.opensearch;

import org.junit.jupiter.api.Test;
import org.opensearch.common.io.stream.BytesStreamOutput;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.ToXContent;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DivrankSearchExtTests {

    static DivrankSearchExt parse(String json) throws IOException {
        try (
            XContentParser parser = JsonXContent.jsonXContent.createParser(
                NamedXContentRegistry.EMPTY,
                DeprecationHandler.THROW_UNSUPPORTED_OPERATION,
                json
            )
        ) {
            parser.nextToken();
            return DivrankSearchExt.parse(parser);
        }
    }

    static String rejected(String json) {
        return assertThrows(IllegalArgumentException.class, () -> parse(json)).getMessage();
    }

    @Test
    void parsesEveryField() throws IOException {
        DivrankSearchExt ext = parse(
            "{\"user_id\":\"u42\",\"diversity\":0.6,\"strategy\":\"mmr\",\"explain\":true,"
                + "\"history\":{\"item_ids\":[\"1\",\"2\",\"1\"]},\"window_size\":50,\"max_per_brand\":2,"
                + "\"relevance_model\":false}"
        );
        assertEquals("u42", ext.userId());
        assertEquals(0.6, ext.diversity());
        assertEquals(Strategy.MMR, ext.strategy());
        assertEquals(Boolean.TRUE, ext.explain());
        assertEquals(List.of("1", "2", "1"), ext.historyItemIds()); // repeats are item memory
        assertEquals(50, ext.windowSize());
        assertEquals(2, ext.maxPerBrand());
        assertNull(ext.maxPerCategory());
        assertEquals(Boolean.FALSE, ext.relevanceModel());
    }

    @Test
    void emptyBlockMeansDefaults() throws IOException {
        DivrankSearchExt ext = parse("{}");
        assertNull(ext.userId());
        assertNull(ext.diversity());
        assertNull(ext.strategy());
        Knobs defaults = new Knobs(0.5, Strategy.FUSION, false, null, null, null);
        assertEquals(defaults, defaults.with(ext));
    }

    @Test
    void badValuesNameTheField() {
        assertTrue(rejected("{\"diversity\":1.5}").contains("[ext.divrank.diversity]"));
        assertTrue(rejected("{\"diversity\":\"high\"}").contains("[ext.divrank.diversity]"));
        assertTrue(rejected("{\"strategy\":\"random\"}").contains("[ext.divrank.strategy]"));
        assertTrue(rejected("{\"explain\":\"yes\"}").contains("[ext.divrank.explain]"));
        assertTrue(rejected("{\"relevance_model\":1}").contains("[ext.divrank.relevance_model]"));
        assertTrue(rejected("{\"user_id\":\"\"}").contains("[ext.divrank.user_id]"));
        assertTrue(rejected("{\"user_id\":7}").contains("[ext.divrank.user_id]"));
        assertTrue(rejected("{\"window_size\":0}").contains("[ext.divrank.window_size]"));
        assertTrue(rejected("{\"window_size\":5000}").contains("[ext.divrank.window_size]"));
        assertTrue(rejected("{\"window_size\":2.5}").contains("[ext.divrank.window_size]"));
        assertTrue(rejected("{\"history\":[\"1\"]}").contains("[ext.divrank.history]"));
        assertTrue(rejected("{\"history\":{\"items\":[\"1\"]}}").contains("[ext.divrank.history.items]"));
        assertTrue(rejected("{\"history\":{\"item_ids\":[{}]}}").contains("[ext.divrank.history.item_ids]"));
        assertTrue(rejected("{\"diversty\":0.2}").contains("[ext.divrank.diversty]"));
    }

    @Test
    void streamAndJsonRoundTrip() throws IOException {
        DivrankSearchExt ext = new DivrankSearchExt("u1", 0.25, Strategy.DPP, false, List.of("a", "b"), 40, null, 3, false);
        try (BytesStreamOutput out = new BytesStreamOutput()) {
            ext.writeTo(out);
            try (StreamInput in = out.bytes().streamInput()) {
                DivrankSearchExt copy = new DivrankSearchExt(in);
                assertEquals(ext, copy);
                assertEquals(ext.hashCode(), copy.hashCode());
            }
        }
        XContentBuilder builder = JsonXContent.contentBuilder().startObject();
        ext.toXContent(builder, ToXContent.EMPTY_PARAMS);
        builder.endObject();
        String json = BytesReference.bytes(builder).utf8ToString();
        String inner = json.substring(json.indexOf(':') + 1, json.length() - 1);
        assertEquals(ext, parse(inner));
    }
}
