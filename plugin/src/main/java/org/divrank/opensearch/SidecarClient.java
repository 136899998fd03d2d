package org.divrank.opensearch;

import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.HttpHeaders;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.util.Timeout;
import org.opensearch.secure_sm.AccessController;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * {@code POST /v1/rerank} to the sidecar: one blocking call on a keep-alive connection, run as a
 * single task on the node's executor, which then also parses the reply and completes the future
 * (so the stages that depend on it run there too). One thread hand-off per search; the JDK's
 * async client took three, each a wake-up on a busy box. The search thread is never blocked,
 * and every call ends by a hard deadline (connect + read timeout), enforced by aborting the
 * connection even when the server accepts and then stalls or trickles bytes.
 */
public final class SidecarClient {

    /** Path of the rerank endpoint under the configured base URL. */
    public static final String RERANK_PATH = "/v1/rerank";

    private final CloseableHttpClient http;
    private final URI endpoint;
    private final RequestConfig requestConfig;
    private final long deadlineMs;
    private final Supplier<String> token;
    private final int maxReplyBytes;
    private final Executor executor;
    private final DeadlineTimer timer;

    /**
     * @param http          shared pooled client (it carries the connect timeout)
     * @param baseUrl       sidecar base URL, e.g. {@code http://127.0.0.1:8600}
     * @param connectMs     connect timeout, counted into the hard deadline
     * @param readMs        time allowed for the answer once connected
     * @param token         bearer token supplier (keystore), {@code null}/blank = no header
     * @param maxReplyBytes largest reply read ({@code divrank.sidecar.max_reply_bytes})
     * @param executor      node thread pool that makes the call and completes the future
     * @param timer         schedules the abort at the hard deadline
     */
    public SidecarClient(
        CloseableHttpClient http,
        URI baseUrl,
        int connectMs,
        int readMs,
        Supplier<String> token,
        int maxReplyBytes,
        Executor executor,
        DeadlineTimer timer
    ) {
        this.http = http;
        String base = baseUrl.toString();
        this.endpoint = URI.create((base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + RERANK_PATH);
        this.deadlineMs = (long) connectMs + readMs;
        this.requestConfig = RequestConfig.custom()
            .setResponseTimeout(Timeout.ofMilliseconds(readMs))
            .setConnectionRequestTimeout(Timeout.ofMilliseconds(deadlineMs))
            .build();
        this.token = token;
        this.maxReplyBytes = maxReplyBytes;
        this.executor = executor;
        this.timer = timer;
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
        HttpPost post = new HttpPost(endpoint);
        post.setConfig(requestConfig);
        post.setHeader(HttpHeaders.ACCEPT, "application/json");
        post.setEntity(new ByteArrayEntity(body, ContentType.APPLICATION_JSON));
        String bearer = token == null ? null : token.get();
        if (bearer != null && !bearer.isBlank()) {
            post.setHeader(HttpHeaders.AUTHORIZATION, "Bearer " + bearer);
        }
        CompletableFuture<SidecarReply> reply = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                try {
                    reply.complete(call(post, windowIds));
                } catch (SidecarFailure failure) {
                    reply.completeExceptionally(failure);
                } catch (RuntimeException e) {
                    reply.completeExceptionally(new SidecarFailure("internal_error", "sidecar call failed: " + e, e));
                }
            });
        } catch (RejectedExecutionException rejected) {
            reply.completeExceptionally(rejected);
        }
        return reply;
    }

    private SidecarReply call(HttpPost post, Set<String> windowIds) throws SidecarFailure {
        AtomicBoolean expired = new AtomicBoolean();
        Runnable cancelAbort = timer.schedule(deadlineMs, () -> {
            expired.set(true);
            post.cancel();
        });
        try {
            // Socket connects are checked against plugin-security.policy by the Java agent.
            byte[] reply = AccessController.doPrivilegedChecked(() -> exchange(post));
            return SidecarReply.parse(reply, windowIds);
        } catch (SidecarFailure failure) {
            throw failure;
        } catch (Exception e) {
            if (expired.get()) {
                throw new SidecarFailure("sidecar_timeout", "no answer from " + endpoint + " within " + deadlineMs + " ms", e);
            }
            throw SidecarFailures.classify(e, endpoint, deadlineMs);
        } finally {
            cancelAbort.run();
        }
    }

    /** The reply body of a 200; any other status is a {@link SidecarFailure}. */
    private byte[] exchange(HttpPost post) throws IOException, SidecarFailure {
        ClassicHttpResponse response = http.executeOpen(null, post, null);
        boolean complete = false;
        try {
            HttpEntity entity = response.getEntity();
            byte[] body = new byte[0];
            if (entity != null) {
                InputStream in = entity.getContent();
                body = CappedBody.read(in, entity.getContentLength(), maxReplyBytes);
            }
            complete = true;
            if (response.getCode() != 200) {
                throw new SidecarFailure("sidecar_http_" + response.getCode(), "sidecar answered HTTP " + response.getCode());
            }
            return body;
        } finally {
            if (complete) {
                response.close(); // the body was read to its end: the connection goes back to the pool
            } else {
                post.cancel(); // too large or broken: drop the connection instead of reading on
                try {
                    response.close();
                } catch (IOException ignored) {
                    // the connection is already shut; the failure being thrown says why
                }
            }
        }
    }
}
