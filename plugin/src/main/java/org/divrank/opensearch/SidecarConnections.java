package org.divrank.opensearch;

import org.apache.hc.client5.http.HttpRequestRetryStrategy;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.HttpRequest;
import org.apache.hc.core5.http.HttpResponse;
import org.apache.hc.core5.http.NoHttpResponseException;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.opensearch.secure_sm.AccessController;

import java.io.Closeable;
import java.io.IOException;
import java.net.SocketException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One pooled keep-alive HTTP/1.1 client per connect timeout, shared by every divrank processor
 * of the node. Pipelines are re-created on each update; sharing keeps the connections to the
 * sidecar warm.
 */
public final class SidecarConnections implements Closeable {

    /** Connections per sidecar: one per search in flight, bounded like the generic pool. */
    static final int MAX_CONNECTIONS_PER_SIDECAR = 128;

    private final Map<Integer, CloseableHttpClient> clients = new ConcurrentHashMap<>();

    /** The shared client for this connect timeout. */
    public CloseableHttpClient forConnectTimeout(int connectMs) {
        return clients.computeIfAbsent(connectMs, SidecarConnections::newHttpClient);
    }

    /**
     * No redirects, cookies or auth caching. Idle connections are not probed before reuse (the
     * probe waits 1 ms on every call after a pause); a connection the sidecar closed meanwhile
     * (uvicorn drops idle ones after 5 s, or it restarted) fails before any answer, and that
     * call is sent once more on a fresh connection: re-ranking is a pure function, safe to repeat.
     */
    private static CloseableHttpClient newHttpClient(int connectMs) {
        return AccessController.doPrivileged(() -> {
            PoolingHttpClientConnectionManager pool = PoolingHttpClientConnectionManagerBuilder.create()
                .setDefaultConnectionConfig(
                    ConnectionConfig.custom().setConnectTimeout(Timeout.ofMilliseconds(connectMs)).setValidateAfterInactivity(TimeValue.NEG_ONE_MILLISECOND).build()
                )
                .setMaxConnPerRoute(MAX_CONNECTIONS_PER_SIDECAR)
                .setMaxConnTotal(4 * MAX_CONNECTIONS_PER_SIDECAR)
                .build();
            return HttpClients.custom()
                .setConnectionManager(pool)
                .setRetryStrategy(new StaleConnectionRetry())
                .disableRedirectHandling()
                .disableCookieManagement()
                .disableAuthCaching()
                .disableContentCompression()
                .build();
        });
    }

    @Override
    public void close() {
        clients.values().forEach(client -> client.close(CloseMode.IMMEDIATE));
        clients.clear();
    }

    /** One more try when a kept-alive connection turns out closed before any answer came. */
    static final class StaleConnectionRetry implements HttpRequestRetryStrategy {

        @Override
        public boolean retryRequest(HttpRequest request, IOException exception, int execCount, HttpContext context) {
            return execCount <= 1 && isStale(exception);
        }

        @Override
        public boolean retryRequest(HttpResponse response, int execCount, HttpContext context) {
            return false; // an HTTP status is an answer: never repeat the call for one
        }

        @Override
        public TimeValue getRetryInterval(HttpResponse response, int execCount, HttpContext context) {
            return TimeValue.ZERO_MILLISECONDS;
        }

        /** Closed or reset under a reused connection; a refused or timed-out connect is not stale. */
        static boolean isStale(IOException exception) {
            if (exception instanceof NoHttpResponseException) {
                return true;
            }
            return exception instanceof SocketException && !(exception instanceof java.net.ConnectException);
        }
    }
}
