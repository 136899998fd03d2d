package org.divrank.opensearch;

/**
 * Why a call to the sidecar produced no usable order. {@link #reason()} is a short stable code
 * that ends up in {@code ext.divrank.reason} and in the degraded counters.
 */
public final class SidecarFailure extends Exception {

    private static final long serialVersionUID = 1L;
    private final String reason;

    public SidecarFailure(String reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public SidecarFailure(String reason, String message) {
        this(reason, message, null);
    }

    /** Stable short code, e.g. {@code sidecar_timeout}, {@code sidecar_http_503}. */
    public String reason() {
        return reason;
    }
}
