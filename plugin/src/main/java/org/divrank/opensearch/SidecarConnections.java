package org.divrank.opensearch;

import org.opensearch.secure_sm.AccessController;

import java.io.Closeable;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One pooled HTTP client per connect timeout, shared by every divrank processor of the node.
 * Pipelines are re-created on each update; sharing keeps keep-alive connections to the sidecar
 * warm and avoids leaking a selector thread per pipeline version.
 */
public final class SidecarConnections implements Closeable {

    private final Map<Integer, HttpClient> clients = new ConcurrentHashMap<>();

    /** The shared client for this connect timeout. */
    public HttpClient forConnectTimeout(int connectMs) {
        return clients.computeIfAbsent(connectMs, SidecarConnections::newHttpClient);
    }

    /** HTTP/1.1 (the sidecar speaks nothing else), never following a redirect off the allowed host. */
    private static HttpClient newHttpClient(int connectMs) {
        return AccessController.doPrivileged(
            () -> HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis(connectMs))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build()
        );
    }

    @Override
    public void close() {
        clients.values().forEach(HttpClient::shutdownNow);
        clients.clear();
    }
}
