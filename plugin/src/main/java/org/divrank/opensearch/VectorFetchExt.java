package org.divrank.opensearch;

import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.search.SearchExtBuilder;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * {@code ext.divrank_vectors: {"field": "embedding"}}: asks {@link VectorFetchPhase} to attach
 * each hit's stored float32 vector (base64, little-endian) as the document field
 * {@value VectorFetchPhase#FIELD}.
 *
 * <p>The {@code divrank_window} processor adds it to the widened request so the window's vectors
 * travel as binary instead of being printed into {@code _source} by the engine, parsed and printed
 * again by this plugin, and parsed once more by the sidecar. It is an ordinary search ext so it
 * crosses the transport layer to the shards like any other.
 */
public final class VectorFetchExt extends SearchExtBuilder {

    /** Name under {@code ext} and writeable name. */
    public static final String NAME = "divrank_vectors";
    static final String FIELD = "field";

    private final String field;

    public VectorFetchExt(String field) {
        if (field == null || field.isBlank()) {
            throw new IllegalArgumentException("[ext." + NAME + "." + FIELD + "] must be a non-empty field name");
        }
        this.field = field;
    }

    public VectorFetchExt(StreamInput in) throws IOException {
        this.field = in.readString();
    }

    /** The vector field to read. */
    public String field() {
        return field;
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        out.writeString(field);
    }

    @Override
    public String getWriteableName() {
        return NAME;
    }

    @Override
    public XContentBuilder toXContent(XContentBuilder builder, Params params) throws IOException {
        return builder.startObject(NAME).field(FIELD, field).endObject();
    }

    /** Parses {@code ext.divrank_vectors}; the parser stands on the block's START_OBJECT. */
    public static VectorFetchExt parse(XContentParser parser) throws IOException {
        if (parser.currentToken() != XContentParser.Token.START_OBJECT) {
            throw new IllegalArgumentException("[ext." + NAME + "] must be an object");
        }
        Map<String, Object> map = parser.map();
        for (String key : map.keySet()) {
            if (!key.equals(FIELD)) {
                throw new IllegalArgumentException("[ext." + NAME + "." + key + "] is not a known field; known: [" + FIELD + "]");
            }
        }
        if (!(map.get(FIELD) instanceof String name)) {
            throw new IllegalArgumentException("[ext." + NAME + "." + FIELD + "] must be a field name, got [" + map.get(FIELD) + "]");
        }
        return new VectorFetchExt(name);
    }

    /** The request's block, or {@code null}. */
    public static VectorFetchExt find(List<SearchExtBuilder> builders) {
        if (builders == null) return null;
        for (SearchExtBuilder builder : builders) {
            if (builder instanceof VectorFetchExt ext) return ext;
        }
        return null;
    }

    /** {@code builders} with this block replacing any earlier one (a new, mutable list). */
    List<SearchExtBuilder> addTo(List<SearchExtBuilder> builders) {
        List<SearchExtBuilder> out = new ArrayList<>();
        if (builders != null) {
            for (SearchExtBuilder builder : builders) {
                if (!(builder instanceof VectorFetchExt)) out.add(builder);
            }
        }
        out.add(this);
        return out;
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof VectorFetchExt other && field.equals(other.field);
    }

    @Override
    public int hashCode() {
        return Objects.hash(NAME, field);
    }
}
