package org.divrank.opensearch;

import java.net.URI;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * Several sidecars behind one processor: requests go round-robin over the ones not resting; a
 * sidecar that refuses the connection is skipped for the next one at once (a refusal costs
 * microseconds, so the request's deadline still holds), and any sidecar that fails at the
 * transport level rests for {@code backoffMs}. When every one is resting they are all tried
 * anyway, so a recovered sidecar is found again; when all fail, the failure is the last one's
 * and the processor fails open as with a single sidecar. Which failures rest a sidecar is
 * {@link SidecarFailures#isTransport}. A retry starts on the thread that completed the failed
 * call: the node's executor ({@link SidecarClient}), or the caller's when the send failed at once.
 */
public final class SidecarPool {

    private final List<SidecarClient> clients;
    private final long backoffMs;
    private final LongSupplier clockMs;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicLongArray restUntil;

    public SidecarPool(List<SidecarClient> clients, long backoffMs, LongSupplier clockMs) {
        if (clients.isEmpty()) {
            throw new IllegalArgumentException("at least one sidecar");
        }
        this.clients = List.copyOf(clients);
        this.backoffMs = backoffMs;
        this.clockMs = clockMs;
        this.restUntil = new AtomicLongArray(clients.size());
    }

    public List<URI> endpoints() {
        return clients.stream().map(SidecarClient::endpoint).toList();
    }

    /** Posts {@code body} to the next healthy sidecar; fails only with {@link SidecarFailure}. */
    public CompletableFuture<SidecarReply> rerank(byte[] body, Set<String> windowIds) {
        int n = clients.size();
        int start = Math.floorMod(next.getAndIncrement(), n);
        long now = clockMs.getAsLong();
        int[] order = new int[n];
        int k = 0;
        for (int i = 0; i < n; i++) { // healthy ones first, in round-robin order
            int c = (start + i) % n;
            if (restUntil.get(c) <= now) order[k++] = c;
        }
        for (int i = 0; i < n; i++) { // then the resting ones, as a last resort
            int c = (start + i) % n;
            if (restUntil.get(c) > now) order[k++] = c;
        }
        return attempt(order, 0, body, windowIds);
    }

    private CompletableFuture<SidecarReply> attempt(int[] order, int at, byte[] body, Set<String> windowIds) {
        int c = order[at];
        return clients.get(c).rerank(body, windowIds).exceptionallyCompose(error -> {
            SidecarFailure failure = SidecarFailures.find(error);
            if (failure != null && SidecarFailures.isTransport(failure)) {
                restUntil.set(c, clockMs.getAsLong() + backoffMs);
                if (failure.reason().equals("sidecar_unreachable") && at + 1 < order.length) {
                    return attempt(order, at + 1, body, windowIds);
                }
            }
            return CompletableFuture.failedFuture(error);
        });
    }
}
