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
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

/**
 * {@code POST /v1/rerank} to the sidecar: one blocking call on a keep-alive connection, run as a
 * single task on the node's executor, which then also parses the reply and runs the caller's
 * completion. A callback, not a future: a future can complete before its dependent stage is
 * attached, which then runs on the attaching (search) thread instead. One thread hand-off per search; the JDK's
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
     * Posts {@code body} and calls {@code done} exactly once, on the executor: with the reply, or
     * with a {@link SidecarFailure}; with the executor's rejection (on the caller's thread) when
     * the node is closing.
     *
     * @param body      JSON request body
     * @param windowIds candidate ids, to validate the reply against
     * @param done      the completion: (reply, null) or (null, failure)
     */
    public void rerank(byte[] body, Set<String> windowIds, BiConsumer<SidecarReply, Exception> done) {
        HttpPost post = new HttpPost(endpoint);
        post.setConfig(requestConfig);
        post.setHeader(HttpHeaders.ACCEPT, "application/json");
        post.setEntity(new ByteArrayEntity(body, ContentType.APPLICATION_JSON));
        String bearer = token == null ? null : token.get();
        if (bearer != null && !bearer.isBlank()) {
            post.setHeader(HttpHeaders.AUTHORIZATION, "Bearer " + bearer);
        }
        try {
            executor.execute(() -> {
                SidecarReply reply;
                try {
                    reply = call(post, windowIds);
                } catch (SidecarFailure failure) {
                    done.accept(null, failure);
                    return;
                } catch (RuntimeException e) {
                    done.accept(null, new SidecarFailure("internal_error", "sidecar call failed: " + e, e));
                    return;
                }
                done.accept(reply, null);
            });
        } catch (RejectedExecutionException rejected) {
            done.accept(null, rejected);
        }
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
