package org.divrank.opensearch;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import org.apache.lucene.util.BytesRef;
import org.opensearch.core.common.bytes.BytesArray;
import org.opensearch.core.common.bytes.BytesReference;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One streaming pass over a hit's JSON {@code _source} that finds the candidate features without
 * building a map: the embedding stays raw JSON bytes (copied, never parsed into doubles and
 * printed again), category/brand/price are read as values. On a 100-hit window of 384-dim
 * vectors this is several times cheaper than {@code getSourceAsMap} plus re-serialization, which
 * matters because it sits on every re-ranked search.
 *
 * <p>Only top-level field names and JSON sources qualify ({@link #applies}); anything else takes
 * the map path in {@link RerankBody}.
 */
public final class SourceScan {

    private static final JsonFactory JSON = new JsonFactory();

    /**
     * Features of one source.
     *
     * @param source         the bytes scanned
     * @param embeddingStart offset of the embedding array's {@code [}, -1 when absent
     * @param embeddingEnd   offset just past its {@code ]}
     * @param fieldStart     offset of the embedding's field name (for stripping), -1 when absent
     * @param category       category path, may be {@code null}
     * @param brand          brand, may be {@code null}
     * @param price          price, may be {@code null}
     * @param title          title, may be {@code null}
     * @param popularity     item prior (finite, >= 0), may be {@code null}
     */
    public record Features(
        BytesRef source,
        int embeddingStart,
        int embeddingEnd,
        int fieldStart,
        String category,
        String brand,
        Double price,
        String title,
        Double popularity
    ) {
        /** Whether an embedding array was found. */
        public boolean hasEmbedding() {
            return embeddingStart >= 0;
        }
    }

    private SourceScan() {}

    /** Whether the fast path can read these fields from this source. */
    public static boolean applies(BytesReference source, CandidateFields fields) {
        if (source == null || source.length() == 0) return false;
        if (fields.embedding().indexOf('.') >= 0 || fields.category().indexOf('.') >= 0) return false;
        if (fields.brand().indexOf('.') >= 0 || fields.price().indexOf('.') >= 0) return false;
        if (fields.title().indexOf('.') >= 0 || fields.popularity().indexOf('.') >= 0) return false;
        for (int i = 0; i < source.length(); i++) {
            byte b = source.get(i);
            if (b == ' ' || b == '\n' || b == '\r' || b == '\t') continue;
            return b == '{';
        }
        return false;
    }

    /**
     * Scans a JSON source.
     *
     * @throws IOException when the source is not valid JSON
     */
    public static Features scan(BytesReference source, CandidateFields fields) throws IOException {
        BytesRef ref = source.toBytesRef();
        int embStart = -1;
        int embEnd = -1;
        int fieldStart = -1;
        String category = null;
        String brand = null;
        Double price = null;
        String title = null;
        Double popularity = null;
        try (JsonParser p = JSON.createParser(ref.bytes, ref.offset, ref.length)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("_source is not a JSON object");
            }
            JsonToken token;
            while ((token = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                int nameOffset = (int) p.currentTokenLocation().getByteOffset();
                JsonToken value = p.nextToken();
                if (name.equals(fields.embedding()) && value == JsonToken.START_ARRAY) {
                    fieldStart = nameOffset;
                    embStart = (int) p.currentTokenLocation().getByteOffset();
                    p.skipChildren();
                    embEnd = (int) p.currentTokenLocation().getByteOffset() + 1;
                } else if (name.equals(fields.category())) {
                    category = categoryOf(p, value);
                } else if (name.equals(fields.brand()) || name.equals(fields.title())) {
                    String text = brandOf(p, value); // a string, or the first string of a list
                    if (name.equals(fields.brand())) brand = text;
                    if (name.equals(fields.title())) title = text;
                } else if (name.equals(fields.price())) {
                    price = number(p, value);
                    p.skipChildren();
                } else if (name.equals(fields.popularity())) {
                    popularity = number(p, value);
                    if (popularity != null && popularity < 0) popularity = null;
                    p.skipChildren();
                } else {
                    p.skipChildren();
                }
            }
            if (token != JsonToken.END_OBJECT) {
                throw new IOException("_source ends unexpectedly");
            }
        }
        return new Features(ref, embStart, embEnd, fieldStart, category, brand, price, title, popularity);
    }

    /** A finite number, else {@code null}. */
    private static Double number(JsonParser p, JsonToken value) throws IOException {
        if (value != JsonToken.VALUE_NUMBER_INT && value != JsonToken.VALUE_NUMBER_FLOAT) return null;
        double d = p.getDoubleValue();
        return Double.isFinite(d) ? d : null;
    }

    private static String categoryOf(JsonParser p, JsonToken value) throws IOException {
        if (value == JsonToken.VALUE_STRING) {
            String text = p.getText();
            return text.isEmpty() ? null : text;
        }
        if (value == JsonToken.START_ARRAY) {
            List<String> levels = new ArrayList<>();
            boolean valid = true;
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (t == JsonToken.VALUE_STRING && !p.getText().isEmpty()) {
                    levels.add(p.getText());
                } else {
                    valid = false;
                    p.skipChildren();
                }
            }
            return valid && !levels.isEmpty() ? String.join("/", levels) : null;
        }
        p.skipChildren();
        return null;
    }

    private static String brandOf(JsonParser p, JsonToken value) throws IOException {
        if (value == JsonToken.VALUE_STRING) {
            String text = p.getText();
            return text.isEmpty() ? null : text;
        }
        if (value == JsonToken.START_ARRAY) {
            String first = null;
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (first == null && t == JsonToken.VALUE_STRING && !p.getText().isEmpty()) {
                    first = p.getText();
                } else {
                    p.skipChildren();
                }
            }
            return first;
        }
        p.skipChildren();
        return null;
    }

    /**
     * The source without the embedding field, cut out of the raw bytes (no parse, no re-print).
     * Returns {@code null} when there is no embedding to strip.
     */
    public static BytesReference withoutEmbedding(Features f) {
        if (f.fieldStart() < 0) {
            return null;
        }
        byte[] b = f.source().bytes;
        int base = f.source().offset;
        int end = base + f.source().length;
        int cutStart = base + f.fieldStart();
        int cutEnd = base + f.embeddingEnd();
        // Remove one neighbouring comma: the one before the field, else the one after it.
        int before = cutStart - 1;
        while (before > base && isSpace(b[before])) before--;
        if (b[before] == ',') {
            cutStart = before;
        } else {
            int after = cutEnd;
            while (after < end && isSpace(b[after])) after++;
            if (after < end && b[after] == ',') cutEnd = after + 1;
        }
        byte[] out = new byte[f.source().length - (cutEnd - cutStart)];
        System.arraycopy(b, base, out, 0, cutStart - base);
        System.arraycopy(b, cutEnd, out, cutStart - base, end - cutEnd);
        return new BytesArray(out);
    }

    private static boolean isSpace(byte c) {
        return c == ' ' || c == '\n' || c == '\r' || c == '\t';
    }
}
