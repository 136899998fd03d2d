package org.divrank.opensearch;

import org.junit.jupiter.api.Test;
import org.opensearch.common.xcontent.XContentHelper;
import org.opensearch.common.xcontent.XContentType;
import org.opensearch.core.common.bytes.BytesArray;
import org.opensearch.core.common.bytes.BytesReference;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SourceScanTests {

    /** Source bytes placed at a non-zero offset of a larger array, as slices of a fetch buffer are. */
    private static BytesReference sliced(String json) {
        byte[] raw = ("xxxx" + json + "yyyy").getBytes(StandardCharsets.UTF_8);
        return new BytesArray(raw, 4, raw.length - 8);
    }

    private static Map<String, Object> parse(BytesReference bytes) {
        return XContentHelper.convertToMap(bytes, false, XContentType.JSON).v2();
    }

    @Test
    void readsFeaturesAndKeepsTheVectorRaw() throws Exception {
        BytesReference src = sliced("{\"title\":\"t\", \"embedding\" : [0.25, -1e-3, 7],\"category\":[\"a\",\"b\"],\"brand\":[\"hp\",\"x\"],\"price\":9.5,\"nested\":{\"embedding\":1}}");
        assertTrue(SourceScan.applies(src, CandidateFields.DEFAULTS));
        SourceScan.Features f = SourceScan.scan(src, CandidateFields.DEFAULTS);
        assertTrue(f.hasEmbedding());
        String raw = new String(f.source().bytes, f.source().offset + f.embeddingStart(), f.embeddingEnd() - f.embeddingStart(), StandardCharsets.UTF_8);
        assertEquals("[0.25, -1e-3, 7]", raw);
        assertEquals("a/b", f.category());
        assertEquals("hp", f.brand());
        assertEquals(9.5, f.price());
    }

    @Test
    void readsTheItemPriorOnlyWhenItIsAFiniteNonNegativeNumber() throws Exception {
        assertEquals(42.0, SourceScan.scan(sliced("{\"popularity\":42}"), CandidateFields.DEFAULTS).popularity());
        assertEquals(0.5, SourceScan.scan(sliced("{\"popularity\":0.5}"), CandidateFields.DEFAULTS).popularity());
        assertNull(SourceScan.scan(sliced("{\"popularity\":-1}"), CandidateFields.DEFAULTS).popularity());
        assertNull(SourceScan.scan(sliced("{\"popularity\":\"many\"}"), CandidateFields.DEFAULTS).popularity());
        assertNull(SourceScan.scan(sliced("{\"title\":\"t\"}"), CandidateFields.DEFAULTS).popularity());
    }

    @Test
    void stripsTheEmbeddingWhereverItSits() throws Exception {
        List<String> sources = List.of(
            "{\"embedding\":[1,2],\"title\":\"t\",\"price\":1}",
            "{\"title\":\"t\",\"embedding\":[1,2],\"price\":1}",
            "{\"title\":\"t\",\"price\":1, \"embedding\" : [1, 2] }",
            "{ \"embedding\": [1,2] }"
        );
        for (String json : sources) {
            SourceScan.Features f = SourceScan.scan(sliced(json), CandidateFields.DEFAULTS);
            BytesReference stripped = SourceScan.withoutEmbedding(f);
            Map<String, Object> expected = parse(new BytesArray(json));
            expected.remove("embedding");
            assertEquals(expected, parse(stripped), json + " -> " + stripped.utf8ToString());
        }
        SourceScan.Features none = SourceScan.scan(sliced("{\"title\":\"t\"}"), CandidateFields.DEFAULTS);
        assertFalse(none.hasEmbedding());
        assertNull(SourceScan.withoutEmbedding(none));
    }

    @Test
    void fallsBackForDottedFieldsAndNonJson() throws Exception {
        CandidateFields dotted = new CandidateFields("vec.v", "category", "brand", "price", "title", "popularity", true);
        assertFalse(SourceScan.applies(new BytesArray("{}"), dotted));
        assertFalse(SourceScan.applies(new BytesArray(new byte[] { (byte) 0xd8, 0 }), CandidateFields.DEFAULTS));
        assertFalse(SourceScan.applies(null, CandidateFields.DEFAULTS));
        assertThrows(Exception.class, () -> SourceScan.scan(new BytesArray("{\"a\":"), CandidateFields.DEFAULTS));
    }

    @Test
    void oddValuesAreIgnoredNotGuessed() throws Exception {
        SourceScan.Features f = SourceScan.scan(
            new BytesArray("{\"category\":[\"a\",3],\"brand\":{\"x\":1},\"price\":\"12\",\"embedding\":\"nope\"}"),
            CandidateFields.DEFAULTS
        );
        assertNull(f.category());
        assertNull(f.brand());
        assertNull(f.price());
        assertFalse(f.hasEmbedding());
    }
}
