package org.divrank.opensearch;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Reads a reply body up to a byte cap: a sidecar (or anything answering at its URL) cannot make
 * the node buffer an unbounded reply. Past the cap reading stops and the call fails with
 * {@code sidecar_reply_too_large}; the caller then aborts the connection rather than closing the
 * stream, which would read the rest of the body to keep the connection reusable.
 */
final class CappedBody {

    private CappedBody() {}

    /**
     * @param in            the body, not closed here
     * @param contentLength declared length, negative when unknown (chunked)
     */
    static byte[] read(InputStream in, long contentLength, int maxBytes) throws IOException, SidecarFailure {
        if (contentLength > maxBytes) {
            throw tooLarge(maxBytes);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(contentLength > 0 ? (int) contentLength : 4096);
        byte[] buffer = new byte[8192];
        int n;
        while ((n = in.read(buffer)) != -1) {
            if ((long) out.size() + n > maxBytes) {
                throw tooLarge(maxBytes);
            }
            out.write(buffer, 0, n);
        }
        return out.toByteArray();
    }

    private static SidecarFailure tooLarge(int maxBytes) {
        return new SidecarFailure("sidecar_reply_too_large", "sidecar reply exceeds " + maxBytes + " bytes (divrank.sidecar.max_reply_bytes)");
    }
}
