package org.divrank.opensearch;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/**
 * A loopback socket that misbehaves below HTTP: it answers every connection with {@link #behave}
 * (half a reply then a reset, or a reply trickled byte by byte). One thread, stopped by close.
 */
final class RawSidecar implements AutoCloseable {

    interface Behaviour {
        void answer(Socket socket, OutputStream out) throws IOException, InterruptedException;
    }

    private final ServerSocket server;
    private final Thread thread;

    RawSidecar(Behaviour behave) throws IOException {
        server = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        thread = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket socket = server.accept()) {
                    readHead(socket.getInputStream());
                    behave.answer(socket, socket.getOutputStream());
                } catch (IOException | InterruptedException e) {
                    // the client gave up, or close() ended accept(): either way, next or done
                }
            }
        }, "raw-sidecar");
        thread.setDaemon(true);
        thread.start();
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    /** Headers, then the Content-Length body, so the reply comes after the whole request. */
    private static void readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                return;
            }
            head.append((char) b);
        }
        for (String line : head.toString().split("\r\n")) {
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                in.readNBytes(Integer.parseInt(line.substring(15).trim()));
            }
        }
    }

    static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public void close() throws Exception {
        server.close();
        thread.join(5000);
    }
}
