package org.divrank.opensearch;

import org.apache.lucene.util.BytesRef;
import org.opensearch.common.document.DocumentField;
import org.opensearch.common.xcontent.XContentType;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.common.xcontent.support.XContentMapValues;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.search.SearchHit;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds the {@code POST /v1/rerank} body (docs/api.md) from the window of hits, in engine
 * order: id, engine score, and the features found in {@code _source}. A vector fetched as binary
 * ({@link VectorFetchPhase}) goes out as {@code embedding_b64}, otherwise the {@code _source}
 * array is copied as JSON. A hit without either is sent without one; the sidecar then looks its
 * vector up by id in {@code index}.
 */
public final class RerankBody {

    /**
     * @param json     the serialized body
     * @param ids      candidate ids in engine order (unique)
     * @param scanned  per id, the raw-source scan (fast path) when one was possible
     */
    public record Built(byte[] json, Set<String> ids, Map<String, SourceScan.Features> scanned) {}

    private RerankBody() {}

    /**
     * @param hits      window in engine order
     * @param fields    where features live in {@code _source}
     * @param index     index or alias the hits came from, {@code null} when unknown
     * @param query     free text for intent detection, may be {@code null}
     * @param userId    user id, may be {@code null}
     * @param history   inline history item ids, may be {@code null}
     * @param knobs     resolved knobs
     * @param lean      the doc-value fields of a lean window ({@link LeanWindow}), {@code null}
     *                  when the features come from {@code _source}
     * @throws SidecarFailure {@code duplicate_ids} when two hits share an id (several indices)
     */
    public static Built build(
        SearchHit[] hits,
        CandidateFields fields,
        String index,
        String query,
        String userId,
        List<String> history,
        Knobs knobs,
        int k,
        int pageSize,
        LeanWindow lean
    ) throws IOException, SidecarFailure {
        Set<String> ids = new LinkedHashSet<>();
        for (SearchHit hit : hits) {
            if (!ids.add(hit.getId())) {
                throw new SidecarFailure("duplicate_ids", "hit id [" + hit.getId() + "] occurs twice in the window (several indices?)");
            }
        }
        try (XContentBuilder b = JsonXContent.contentBuilder()) {
            b.startObject();
            if (query != null) b.field("query", query);
            if (index != null) b.field("index", index);
            if (userId != null || (history != null && !history.isEmpty())) {
                b.startObject("user");
                if (userId != null) b.field("id", userId);
                if (history != null && !history.isEmpty()) {
                    b.startObject("history").field("item_ids", history).endObject();
                }
                b.endObject();
            }
            Map<String, SourceScan.Features> scanned = new HashMap<>();
            b.startArray("candidates");
            for (SearchHit hit : hits) {
                byte[] fetched = takeFetchedVector(hit);
                byte[] vector = fields.sendEmbedding() ? fetched : null;
                if (lean != null) {
                    writeDocValues(b, hit, lean, vector);
                    continue;
                }
                SourceScan.Features features = scan(hit, fields);
                if (features != null) {
                    scanned.put(hit.getId(), features);
                    writeScanned(b, hit, features, vector, fields.sendEmbedding());
                } else {
                    writeCandidate(b, hit, fields, vector);
                }
            }
            b.endArray();
            b.field("k", k);
            b.field("page_size", pageSize);
            b.startObject("knobs");
            b.field("diversity", knobs.diversity());
            b.field("strategy", knobs.strategy().wireName());
            b.field("explain", knobs.explain());
            if (knobs.maxPerBrand() != null) b.field("max_per_brand", knobs.maxPerBrand());
            if (knobs.maxPerCategory() != null) b.field("max_per_category", knobs.maxPerCategory());
            if (knobs.relevanceModel() != null) b.field("relevance_model", knobs.relevanceModel());
            b.endObject();
            b.endObject();
            return new Built(BytesReference.toBytes(BytesReference.bytes(b)), ids, scanned);
        }
    }

    /**
     * Removes the vector the fetch phase attached (never shown to the caller): its little-endian
     * float32 bytes, or {@code null}. A node of an older plugin version attaches base64 text.
     */
    static byte[] takeFetchedVector(SearchHit hit) {
        DocumentField field = hit.field(VectorFetchPhase.FIELD);
        if (field == null) {
            return null;
        }
        hit.removeDocumentField(VectorFetchPhase.FIELD);
        if (field.getValues().size() != 1) {
            return null;
        }
        Object value = field.getValue();
        if (value instanceof byte[] bytes) {
            return bytes.length == 0 ? null : bytes;
        }
        if (value instanceof String text && !text.isEmpty()) {
            try {
                return Base64.getDecoder().decode(text);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        return null;
    }

    private static SourceScan.Features scan(SearchHit hit, CandidateFields fields) {
        BytesReference source = hit.getSourceRef();
        if (!SourceScan.applies(source, fields)) {
            return null;
        }
        try {
            return SourceScan.scan(source, fields);
        } catch (IOException e) {
            return null; // the map path copes (or fails) with it
        }
    }

    private static void writeIdAndScore(XContentBuilder b, SearchHit hit) throws IOException {
        b.field("id", hit.getId());
        float score = hit.getScore();
        if (Float.isNaN(score)) {
            b.nullField("score");
        } else {
            b.field("score", score);
        }
    }

    /** Fast path: the fetched vector's base64, else the embedding's JSON text copied as is. */
    private static void writeScanned(XContentBuilder b, SearchHit hit, SourceScan.Features f, byte[] vector, boolean withEmbedding)
        throws IOException {
        b.startObject();
        writeIdAndScore(b, hit);
        if (vector != null) {
            b.field("embedding_b64", vector); // Jackson base64-encodes straight into the body
        } else if (withEmbedding && f.hasEmbedding()) {
            BytesRef src = f.source();
            b.rawField(
                "embedding",
                new ByteArrayInputStream(src.bytes, src.offset + f.embeddingStart(), f.embeddingEnd() - f.embeddingStart()),
                XContentType.JSON
            );
        }
        writeFeatures(b, f.category(), f.brand(), f.price(), f.title(), f.popularity());
        b.endObject();
    }

    private static void writeCandidate(XContentBuilder b, SearchHit hit, CandidateFields fields, byte[] vector) throws IOException {
        b.startObject();
        writeIdAndScore(b, hit);
        if (vector != null) {
            b.field("embedding_b64", vector);
        }
        Map<String, Object> source = hit.hasSource() ? hit.getSourceAsMap() : null;
        if (source != null) {
            Object inSource = fields.sendEmbedding() && vector == null ? XContentMapValues.extractValue(fields.embedding(), source) : null;
            if (inSource instanceof List<?> values && !values.isEmpty()) {
                b.startArray("embedding");
                for (Object v : values) {
                    if (v instanceof Number n) {
                        b.value(n.doubleValue());
                    } else {
                        b.nullValue(); // the sidecar rejects it: 422 → degraded, never a wrong vector
                    }
                }
                b.endArray();
            }
            writeFeatures(
                b,
                categoryPath(XContentMapValues.extractValue(fields.category(), source)),
                firstString(XContentMapValues.extractValue(fields.brand(), source)),
                finite(XContentMapValues.extractValue(fields.price(), source)),
                firstString(XContentMapValues.extractValue(fields.title(), source)),
                prior(finite(XContentMapValues.extractValue(fields.popularity(), source)))
            );
        }
        b.endObject();
    }

    /** Lean window: the features from the hit's doc-value fields. */
    private static void writeDocValues(XContentBuilder b, SearchHit hit, LeanWindow lean, byte[] vector) throws IOException {
        b.startObject();
        writeIdAndScore(b, hit);
        if (vector != null) {
            b.field("embedding_b64", vector);
        }
        writeFeatures(
            b,
            LeanWindow.string(hit, lean.category()),
            LeanWindow.string(hit, lean.brand()),
            finite(first(LeanWindow.docValues(hit, lean.price()))),
            LeanWindow.string(hit, lean.title()),
            prior(finite(first(LeanWindow.docValues(hit, lean.popularity()))))
        );
        b.endObject();
    }

    /** The candidate's features, each when known; the title cut to {@link CandidateFields#MAX_TITLE_CHARS}. */
    private static void writeFeatures(XContentBuilder b, String category, String brand, Double price, String title, Double popularity)
        throws IOException {
        if (category != null) b.field("category", category);
        if (brand != null) b.field("brand", brand);
        if (price != null) b.field("price", price.doubleValue());
        if (title != null) b.field("title", clip(title));
        if (popularity != null) b.field("popularity", popularity.doubleValue());
    }

    /** The first element of a list (or {@code null} when empty), any other value as it is. */
    private static Object first(Object value) {
        return value instanceof List<?> values ? (values.isEmpty() ? null : values.get(0)) : value;
    }

    /** A non-empty string, or the first element of a list when that is one; else {@code null}. */
    private static String firstString(Object value) {
        return first(value) instanceof String text && !text.isEmpty() ? text : null;
    }

    /** A finite number as a double, else {@code null}. */
    private static Double finite(Object value) {
        return value instanceof Number n && Double.isFinite(n.doubleValue()) ? n.doubleValue() : null;
    }

    /** An item prior: a count, so never negative ({@code null} otherwise). */
    private static Double prior(Double popularity) {
        return popularity != null && popularity >= 0 ? popularity : null;
    }

    private static String clip(String title) {
        return title.length() <= CandidateFields.MAX_TITLE_CHARS ? title : title.substring(0, CandidateFields.MAX_TITLE_CHARS);
    }

    private static String categoryPath(Object value) {
        if (value instanceof String text) {
            return text.isEmpty() ? null : text;
        }
        if (value instanceof List<?> levels && !levels.isEmpty()) {
            StringBuilder path = new StringBuilder();
            for (Object level : levels) {
                if (!(level instanceof String text) || text.isEmpty()) {
                    return null;
                }
                if (path.length() > 0) path.append('/');
                path.append(text);
            }
            return path.toString();
        }
        return null;
    }
}
