package org.divrank.opensearch;

import org.apache.lucene.document.Document;
import org.apache.lucene.document.KnnByteVectorField;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.Field;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.junit.jupiter.api.Test;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.common.io.stream.BytesStreamOutput;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VectorFetchPhaseTests {

    private static float[] decode(byte[] raw) {
        ByteBuffer bytes = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[bytes.remaining() / Float.BYTES];
        bytes.asFloatBuffer().get(out);
        return out;
    }

    private static float[] vectorOf(int i) {
        return new float[] { i + 0.25f, -1.5f * i, 1e-7f * i };
    }

    @Test
    void readsByteVectorsAsTheSameFloats() throws Exception {
        try (Directory dir = new ByteBuffersDirectory()) {
            try (IndexWriter writer = new IndexWriter(dir, new IndexWriterConfig())) {
                for (int i = 0; i < 4; i++) {
                    Document doc = new Document();
                    doc.add(new KnnByteVectorField("embedding", new byte[] { (byte) i, -128, 127 }, VectorSimilarityFunction.COSINE));
                    writer.addDocument(doc);
                }
            }
            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                VectorFetchPhase.Reader fetch = new VectorFetchPhase.Reader("embedding");
                fetch.setNextReader(reader.leaves().get(0));
                assertArrayEquals(new float[] { 2f, -128f, 127f }, decode(fetch.vectorOf(2)));
                assertArrayEquals(new float[] { 1f, -128f, 127f }, decode(fetch.vectorOf(1)), "out of doc order");
                assertArrayEquals(new float[] { 3f, -128f, 127f }, decode(fetch.vectorOf(3)));
            }
        }
    }

    @Test
    void readsStoredFloatsAsLittleEndianBytes() throws Exception {
        try (Directory dir = new ByteBuffersDirectory()) {
            try (IndexWriter writer = new IndexWriter(dir, new IndexWriterConfig())) {
                for (int i = 0; i < 6; i++) {
                    Document doc = new Document();
                    doc.add(new StringField("id", "d" + i, Field.Store.YES));
                    if (i != 3) { // one document has no vector
                        doc.add(new KnnFloatVectorField("embedding", vectorOf(i), VectorSimilarityFunction.COSINE));
                    }
                    writer.addDocument(doc);
                }
            }
            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                LeafReaderContext leaf = reader.leaves().get(0);
                VectorFetchPhase.Reader fetch = new VectorFetchPhase.Reader("embedding");
                fetch.setNextReader(leaf);
                assertArrayEquals(vectorOf(1), decode(fetch.vectorOf(1)));
                assertArrayEquals(vectorOf(4), decode(fetch.vectorOf(4)));
                byte[] again = fetch.vectorOf(2);
                assertTrue(again != null, "out of doc order still works");
                assertArrayEquals(vectorOf(2), decode(again));
                assertNull(fetch.vectorOf(3), "a document without a vector gets nothing");
                assertArrayEquals(vectorOf(5), decode(fetch.vectorOf(5)));
                assertEquals(12, fetch.vectorOf(0).length, "3 floats = 12 bytes");

                VectorFetchPhase.Reader other = new VectorFetchPhase.Reader("not_a_vector");
                other.setNextReader(leaf);
                assertNull(other.vectorOf(0));
                VectorFetchPhase.Reader keyword = new VectorFetchPhase.Reader("id");
                keyword.setNextReader(leaf);
                assertNull(keyword.vectorOf(0), "a non-vector field is not read as one");
            }
        }
    }

    @Test
    void extRoundTripsThroughXContentAndTransport() throws Exception {
        VectorFetchExt ext = new VectorFetchExt("vec");
        XContentBuilder b = JsonXContent.contentBuilder().startObject();
        ext.toXContent(b, null);
        b.endObject();
        try (
            XContentParser p = JsonXContent.jsonXContent.createParser(
                NamedXContentRegistry.EMPTY,
                DeprecationHandler.THROW_UNSUPPORTED_OPERATION,
                BytesReference.toBytes(BytesReference.bytes(b))
            )
        ) {
            p.nextToken(); // {
            p.nextToken(); // divrank_vectors
            p.nextToken(); // {
            assertEquals(ext, VectorFetchExt.parse(p));
        }
        try (BytesStreamOutput out = new BytesStreamOutput()) {
            ext.writeTo(out);
            assertEquals(ext, new VectorFetchExt(out.bytes().streamInput()));
        }
        assertEquals(List.of(ext), ext.addTo(List.of(new VectorFetchExt("old"))));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new VectorFetchExt(" "));
        assertTrue(e.getMessage().contains("ext.divrank_vectors.field"), e.getMessage());
    }
}
