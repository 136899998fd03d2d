package org.divrank.opensearch;

import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;

/**
 * Reads a reply body up to a byte cap: a sidecar (or anything answering at its URL) cannot make
 * the node buffer an unbounded reply. Past the cap the stream is cancelled and the body fails
 * with {@code sidecar_reply_too_large}.
 */
final class CappedBody implements HttpResponse.BodySubscriber<byte[]> {

    private final int maxBytes;
    private final CompletableFuture<byte[]> result = new CompletableFuture<>();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private Flow.Subscription subscription;

    CappedBody(int maxBytes) {
        this.maxBytes = maxBytes;
    }

    static HttpResponse.BodyHandler<byte[]> handler(int maxBytes) {
        return info -> new CappedBody(maxBytes);
    }

    @Override
    public CompletionStage<byte[]> getBody() {
        return result;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        subscription = s;
        s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
        if (result.isDone()) {
            return;
        }
        for (ByteBuffer buffer : items) {
            int n = buffer.remaining();
            if ((long) out.size() + n > maxBytes) {
                subscription.cancel();
                result.completeExceptionally(
                    new SidecarFailure(
                        "sidecar_reply_too_large",
                        "sidecar reply exceeds " + maxBytes + " bytes (divrank.sidecar.max_reply_bytes)"
                    )
                );
                return;
            }
            byte[] chunk = new byte[n];
            buffer.get(chunk);
            out.write(chunk, 0, n);
        }
    }

    @Override
    public void onError(Throwable error) {
        result.completeExceptionally(error);
    }

    @Override
    public void onComplete() {
        result.complete(out.toByteArray());
    }
}
