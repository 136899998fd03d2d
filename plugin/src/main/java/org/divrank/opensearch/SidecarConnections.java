package org.divrank.opensearch;

import java.io.Closeable;
import java.net.http.HttpClient;
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
        return clients.computeIfAbsent(connectMs, SidecarClient::newHttpClient);
    }

    @Override
    public void close() {
        clients.values().forEach(HttpClient::shutdownNow);
        clients.clear();
    }
}
