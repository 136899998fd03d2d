package org.divrank.opensearch;

import org.apache.lucene.index.ByteVectorValues;
import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.KnnVectorValues;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.VectorEncoding;
import org.opensearch.common.document.DocumentField;
import org.opensearch.search.SearchExtBuilder;
import org.opensearch.search.fetch.FetchContext;
import org.opensearch.search.fetch.FetchSubPhase;
import org.opensearch.search.fetch.FetchSubPhaseProcessor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Fetch sub-phase behind {@link VectorFetchExt}: reads each hit's float32 vector straight from
 * the segment's vector values and attaches its little-endian float32 bytes under the document
 * field {@value #FIELD} (JSON renders them as base64: the sidecar's {@code embedding_b64}).
 *
 * <p>Why: with the k-NN plugin's derived source the engine rebuilds the vector of every fetched
 * {@code _source} by printing 384 floats as text; for a 100-hit window that and the parsing
 * downstream dominated the pipeline's added latency. Reading the stored floats costs a few
 * microseconds per hit. Byte vectors ({@code --storage byte}) go out as the same floats (cosine
 * ignores their scale). Hits whose segment has no vectors for the field (missing field, other
 * engines) get nothing; the sidecar then looks them up by id.
 */
public final class VectorFetchPhase implements FetchSubPhase {

    /** Document field carrying the vector's bytes; the response processor removes it. */
    public static final String FIELD = "_divrank_vector";

    @Override
    public FetchSubPhaseProcessor getProcessor(FetchContext context) {
        SearchExtBuilder ext = context.getSearchExt(VectorFetchExt.NAME);
        if (!(ext instanceof VectorFetchExt wanted)) {
            return null;
        }
        return new Reader(wanted.field());
    }

    /** Per shard: walks each segment's vector values forward as the (sorted) hits come. */
    static final class Reader implements FetchSubPhaseProcessor {
        private final String field;
        private LeafReader leaf;
        private KnnVectorValues values;
        private boolean bytes;
        private KnnVectorValues.DocIndexIterator iterator;

        Reader(String field) {
            this.field = field;
        }

        @Override
        public void setNextReader(LeafReaderContext context) throws IOException {
            leaf = context.reader();
            values = null;
            iterator = null;
            FieldInfo info = leaf.getFieldInfos().fieldInfo(field);
            if (info == null || info.getVectorDimension() == 0) {
                return;
            }
            bytes = info.getVectorEncoding() == VectorEncoding.BYTE;
            values = open();
            iterator = values == null ? null : values.iterator();
        }

        private KnnVectorValues open() throws IOException {
            return bytes ? leaf.getByteVectorValues(field) : leaf.getFloatVectorValues(field);
        }

        @Override
        public void process(HitContext hit) throws IOException {
            byte[] encoded = vectorOf(hit.docId());
            if (encoded != null) {
                hit.hit().setDocumentField(FIELD, new DocumentField(FIELD, List.of(encoded)));
            }
        }

        /**
         * The document's vector as little-endian float32 bytes (segment-local doc id), {@code null}
         * when it has none. Raw bytes, not base64 text: half the size between shard and coordinator,
         * and the body builder base64-encodes them straight into its output.
         */
        byte[] vectorOf(int doc) throws IOException {
            if (values == null) {
                return null;
            }
            if (iterator.docID() > doc) {
                // Hits normally come in doc order; otherwise start over (an iterator of the same
                // values may share its position, so the values are opened again).
                values = open();
                iterator = values.iterator();
            }
            int at = iterator.docID() == doc ? doc : iterator.advance(doc);
            if (at != doc) {
                return null;
            }
            float[] vector;
            if (bytes) {
                byte[] ints = ((ByteVectorValues) values).vectorValue(iterator.index());
                vector = new float[ints.length];
                for (int i = 0; i < ints.length; i++) {
                    vector[i] = ints[i];
                }
            } else {
                vector = ((FloatVectorValues) values).vectorValue(iterator.index());
            }
            ByteBuffer out = ByteBuffer.allocate(vector.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            out.asFloatBuffer().put(vector);
            return out.array();
        }
    }
}
