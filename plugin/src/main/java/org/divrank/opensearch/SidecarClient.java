package org.divrank.opensearch;

import org.opensearch.secure_sm.AccessController;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Asynchronous {@code POST /v1/rerank} to the sidecar. Never blocks the caller's thread, and every
 * call ends by a hard deadline (connect + read timeout) even when the server accepts and then
 * stalls. The reply is parsed and the future completed on the node's executor, so neither that
 * work nor the stages that depend on it run on the HTTP client's few selector/worker threads.
 */
public final class SidecarClient {

    /** Path of the rerank endpoint under the configured base URL. */
    public static final String RERANK_PATH = "/v1/rerank";

    private final HttpClient http;
    private final URI endpoint;
    private final Duration readTimeout;
    private final long deadlineMs;
    private final Supplier<String> token;
    private final int maxReplyBytes;
    private final Executor executor;

    /**
     * @param http        shared client (it carries the connect timeout)
     * @param baseUrl     sidecar base URL, e.g. {@code http://127.0.0.1:8600}
     * @param connectMs   connect timeout, counted into the hard deadline
     * @param readMs      time allowed for the answer once connected
     * @param token       bearer token supplier (keystore), {@code null}/blank = no header
     * @param maxReplyBytes largest reply read ({@code divrank.sidecar.max_reply_bytes})
     * @param executor    node thread pool that parses the reply and completes the future
     */
    public SidecarClient(
        HttpClient http,
        URI baseUrl,
        int connectMs,
        int readMs,
        Supplier<String> token,
        int maxReplyBytes,
        Executor executor
    ) {
        this.http = http;
        String base = baseUrl.toString();
        this.endpoint = URI.create((base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + RERANK_PATH);
        this.readTimeout = Duration.ofMillis(readMs);
        this.deadlineMs = (long) connectMs + readMs;
        this.token = token;
        this.maxReplyBytes = maxReplyBytes;
        this.executor = executor;
    }

    public URI endpoint() {
        return endpoint;
    }

    /**
     * Posts {@code body}; the future fails only with {@link SidecarFailure}, or with the executor's
     * rejection when the node is closing.
     *
     * @param body      JSON request body
     * @param windowIds candidate ids, to validate the reply against
     */
    public CompletableFuture<SidecarReply> rerank(byte[] body, Set<String> windowIds) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(endpoint)
            .timeout(readTimeout)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        String bearer = token == null ? null : token.get();
        if (bearer != null && !bearer.isBlank()) {
            builder.header("Authorization", "Bearer " + bearer);
        }
        HttpRequest request = builder.build();
        CompletableFuture<HttpResponse<byte[]>> sent;
        try {
            // Socket connects are checked against plugin-security.policy by the Java agent.
            sent = AccessController.doPrivileged(() -> http.sendAsync(request, CappedBody.handler(maxReplyBytes)));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(new SidecarFailure("sidecar_unreachable", "could not send to " + endpoint, e));
        }
        return sent.orTimeout(deadlineMs, TimeUnit.MILLISECONDS).handleAsync((response, error) -> {
            if (error != null) {
                sent.cancel(true);
                throw new CompletionException(SidecarFailures.classify(error, endpoint, deadlineMs));
            }
            if (response.statusCode() != 200) {
                throw new CompletionException(
                    new SidecarFailure("sidecar_http_" + response.statusCode(), "sidecar answered HTTP " + response.statusCode())
                );
            }
            try {
                return SidecarReply.parse(response.body(), windowIds);
            } catch (SidecarFailure failure) {
                throw new CompletionException(failure);
            }
        }, executor);
    }
}
