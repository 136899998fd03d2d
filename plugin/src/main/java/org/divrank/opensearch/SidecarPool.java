package org.divrank.opensearch;

import java.net.URI;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;

/**
 * Several sidecars behind one processor: requests go round-robin over the ones not resting; a
 * sidecar that refuses the connection is skipped for the next one at once (a refusal costs
 * microseconds, so the request's deadline still holds), and any sidecar that fails at the
 * transport level rests for {@code backoffMs}. When every one is resting they are all tried
 * anyway, so a recovered sidecar is found again; when all fail, the failure is the last one's
 * and the processor fails open as with a single sidecar. Which failures rest a sidecar is
 * {@link SidecarFailures#isTransport}. A retry starts from the failed call's completion, on the
 * node's executor ({@link SidecarClient}).
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

    /**
     * Posts {@code body} to the next healthy sidecar and calls {@code done} once, as
     * {@link SidecarClient#rerank} does; a failure is a {@link SidecarFailure} (or the executor's
     * rejection).
     */
    public void rerank(byte[] body, Set<String> windowIds, BiConsumer<SidecarReply, Exception> done) {
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
        attempt(order, 0, body, windowIds, done);
    }

    private void attempt(int[] order, int at, byte[] body, Set<String> windowIds, BiConsumer<SidecarReply, Exception> done) {
        int c = order[at];
        clients.get(c).rerank(body, windowIds, (reply, error) -> {
            SidecarFailure failure = error == null ? null : SidecarFailures.find(error);
            if (failure != null && SidecarFailures.isTransport(failure)) {
                restUntil.set(c, clockMs.getAsLong() + backoffMs);
                if (failure.reason().equals("sidecar_unreachable") && at + 1 < order.length) {
                    attempt(order, at + 1, body, windowIds, done);
                    return;
                }
            }
            done.accept(reply, error);
        });
    }
}
