package org.divrank.opensearch;

import org.opensearch.OpenSearchStatusException;
import org.opensearch.core.rest.RestStatus;

import org.apache.hc.client5.http.ConnectTimeoutException;
import org.apache.hc.core5.http.ConnectionRequestTimeoutException;

import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.util.Set;
import java.util.concurrent.CompletionException;

/**
 * What a failed re-rank maps to: its stable reason code ({@code ext.divrank.reason}), the counter
 * it bumps, whether the pool rests the sidecar, and the HTTP status when the search fails closed.
 * Kept in one place so the response, the stats endpoint and the error a caller sees agree.
 */
final class SidecarFailures {

    /** Failures that mean "this sidecar, not the request": the pool rests it. */
    private static final Set<String> TRANSPORT = Set.of(
        "sidecar_unreachable",
        "sidecar_connect_timeout",
        "sidecar_timeout",
        "sidecar_io_error"
    );

    private SidecarFailures() {}

    /** The error inside any {@link CompletionException} wrappers. */
    static Throwable unwrap(Throwable error) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    /** The {@link SidecarFailure} a completion error carries, or {@code null}. */
    static SidecarFailure find(Throwable error) {
        return unwrap(error) instanceof SidecarFailure failure ? failure : null;
    }

    /** The {@link SidecarFailure} a completion error carries; anything else is {@code internal_error}. */
    static SidecarFailure of(Throwable error) {
        SidecarFailure failure = find(error);
        if (failure != null) {
            return failure;
        }
        Throwable cause = unwrap(error);
        return new SidecarFailure("internal_error", "divrank response processor failed: " + cause, cause);
    }

    /** Whether the failure is the sidecar's (rest it, maybe try another) rather than the request's. */
    static boolean isTransport(SidecarFailure failure) {
        return TRANSPORT.contains(failure.reason());
    }

    /**
     * The reason for an HTTP client error.
     *
     * @param endpoint   URL called, for the message
     * @param deadlineMs the call's hard deadline, for the message
     */
    static SidecarFailure classify(Throwable error, URI endpoint, long deadlineMs) {
        for (Throwable c = error; c != null; c = c.getCause()) {
            if (c instanceof SidecarFailure failure) {
                return failure; // e.g. sidecar_reply_too_large from the capped body
            }
        }
        Throwable cause = unwrap(error);
        if (cause instanceof ConnectTimeoutException) {
            return new SidecarFailure("sidecar_connect_timeout", "no connection to " + endpoint + " within the connect timeout", cause);
        }
        if (cause instanceof ConnectionRequestTimeoutException) {
            return new SidecarFailure("sidecar_timeout", "every connection to " + endpoint + " stayed busy for " + deadlineMs + " ms", cause);
        }
        if (cause instanceof SocketTimeoutException) {
            return new SidecarFailure("sidecar_timeout", "no answer from " + endpoint + " within " + deadlineMs + " ms", cause);
        }
        if (cause instanceof ConnectException) {
            return new SidecarFailure("sidecar_unreachable", "connection to " + endpoint + " refused", cause);
        }
        if (cause instanceof SecurityException) {
            return new SidecarFailure("sidecar_forbidden", "connection to " + endpoint + " denied by the security policy", cause);
        }
        return new SidecarFailure("sidecar_io_error", "call to " + endpoint + " failed: " + cause, cause);
    }

    /** Bumps the failure's counter: degraded when failing open, failed otherwise. */
    static void count(DivrankStats stats, SidecarFailure failure, boolean failOpen) {
        if (failOpen) {
            stats.degraded(failure.reason());
        } else {
            stats.failed(failure.reason());
        }
    }

    /** The search error when {@code fail_open} is false. */
    static OpenSearchStatusException failClosed(SidecarFailure failure) {
        return new OpenSearchStatusException(
            "divrank re-ranking failed [" + failure.reason() + "]: " + failure.getMessage() + " (fail_open is false)",
            status(failure.reason()),
            failure
        );
    }

    /** 400 for a request the sidecar cannot take, 502 for a bad answer, 503 when there is none. */
    static RestStatus status(String reason) {
        if (reason.equals("duplicate_ids")) return RestStatus.BAD_REQUEST;
        if (reason.startsWith("sidecar_http_") || reason.equals("sidecar_bad_reply")) return RestStatus.BAD_GATEWAY;
        if (reason.equals("internal_error")) return RestStatus.INTERNAL_SERVER_ERROR;
        return RestStatus.SERVICE_UNAVAILABLE;
    }
}
