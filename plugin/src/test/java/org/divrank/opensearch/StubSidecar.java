package org.divrank.opensearch;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentParser;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/** A local stand-in for the sidecar: answers {@code POST /v1/rerank} with a scripted reply. */
final class StubSidecar implements AutoCloseable {

    /** What to answer: status, body and an optional delay before answering. */
    record Reply(int status, String body, long delayMs) {}

    private final HttpServer server;
    private volatile Function<Map<String, Object>, Reply> script = StubSidecar::reverse;
    volatile Map<String, Object> lastBody;
    volatile String lastAuthorization;
    final AtomicInteger calls = new AtomicInteger();

    StubSidecar() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/v1/rerank", this::handle);
        server.start();
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    void script(Function<Map<String, Object>, Reply> script) {
        this.script = script;
    }

    private void handle(HttpExchange exchange) throws IOException {
        calls.incrementAndGet();
        byte[] raw = exchange.getRequestBody().readAllBytes();
        lastAuthorization = exchange.getRequestHeaders().getFirst("Authorization");
        Map<String, Object> body;
        try (
            XContentParser parser = JsonXContent.jsonXContent.createParser(
                NamedXContentRegistry.EMPTY,
                DeprecationHandler.THROW_UNSUPPORTED_OPERATION,
                raw
            )
        ) {
            body = parser.map();
        }
        lastBody = body;
        Reply reply = script.apply(body);
        if (reply.delayMs() > 0) {
            try {
                Thread.sleep(reply.delayMs());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        byte[] out = reply.body().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        try {
            exchange.sendResponseHeaders(reply.status(), out.length);
            try (OutputStream os = exchange.getResponseBody()) {
                os.write(out);
            }
        } catch (IOException e) {
            // the client gave up (timeout tests); nothing to do
        }
    }

    @SuppressWarnings("unchecked")
    static List<String> candidateIds(Map<String, Object> body) {
        List<String> ids = new ArrayList<>();
        for (Object c : (List<Object>) body.get("candidates")) {
            ids.add((String) ((Map<String, Object>) c).get("id"));
        }
        return ids;
    }

    /** Reverses the window and answers its first {@code k}, as the sidecar does, with descending scores and explanations when asked. */
    static Reply reverse(Map<String, Object> body) {
        List<String> ids = candidateIds(body);
        Collections.reverse(ids);
        int k = body.get("k") instanceof Number n ? n.intValue() : ids.size();
        return answer(body, new ArrayList<>(ids.subList(0, Math.min(k, ids.size()))));
    }

    /**
     * Orders by a scrambled key of each candidate's first vector component, read from
     * {@code embedding} or decoded from {@code embedding_b64}; candidates without a vector last.
     */
    @SuppressWarnings("unchecked")
    static Reply byVector(Map<String, Object> body) {
        Map<String, Double> key = new HashMap<>();
        for (Object raw : (List<Object>) body.get("candidates")) {
            Map<String, Object> c = (Map<String, Object>) raw;
            Double first = null;
            if (c.get("embedding") instanceof List<?> values && !values.isEmpty()) {
                first = ((Number) values.get(0)).doubleValue();
            } else if (c.get("embedding_b64") instanceof String b64) {
                first = (double) ByteBuffer.wrap(Base64.getDecoder().decode(b64)).order(ByteOrder.LITTLE_ENDIAN).getFloat(0);
            }
            key.put((String) c.get("id"), first == null ? Double.POSITIVE_INFINITY : (first * 7) % 11);
        }
        List<String> ids = candidateIds(body);
        ids.sort(Comparator.comparing(key::get));
        return answer(body, ids);
    }

    @SuppressWarnings("unchecked")
    private static Reply answer(Map<String, Object> body, List<String> ids) {
        boolean explain = Boolean.TRUE.equals(((Map<String, Object>) body.get("knobs")).get("explain"));
        StringBuilder json = new StringBuilder("{\"ids\":[");
        StringBuilder scores = new StringBuilder();
        StringBuilder explanations = new StringBuilder();
        for (int i = 0; i < ids.size(); i++) {
            String sep = i == 0 ? "" : ",";
            double score = 1.0 - i / 1000.0;
            json.append(sep).append('"').append(ids.get(i)).append('"');
            scores.append(sep).append(score);
            explanations.append(sep)
                .append("{\"id\":\"")
                .append(ids.get(i))
                .append("\",\"fused\":")
                .append(score)
                .append(",\"terms\":{\"relevance\":")
                .append(score)
                .append("},\"decisions\":[]}");
        }
        json.append("],\"scores\":[").append(scores).append("],\"strategy\":\"fusion\",\"model_version\":\"stub-1\"");
        if (explain) {
            json.append(",\"explanations\":[").append(explanations).append(']');
        }
        json.append('}');
        return new Reply(200, json.toString(), 0);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
