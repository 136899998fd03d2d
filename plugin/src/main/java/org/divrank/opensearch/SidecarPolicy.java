package org.divrank.opensearch;

import org.opensearch.common.settings.Setting;
import org.opensearch.common.settings.Settings;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Node-level limits on where a pipeline may send hits and the token, and how much it reads back.
 *
 * <p>Anyone allowed to create a search pipeline chooses its {@code sidecar_url}; without a node
 * allow-list they could point it at their own server and receive the keystore token and the
 * candidates. Only an operator editing {@code opensearch.yml} can widen it.
 *
 * @param allowedHosts  host names or addresses a {@code sidecar_url} may name (lower case)
 * @param maxReplyBytes largest sidecar reply read; a larger one fails open
 */
public record SidecarPolicy(Set<String> allowedHosts, int maxReplyBytes) {

    public static final Setting<List<String>> ALLOWED_HOSTS = Setting.listSetting(
        "divrank.sidecar.allowed_hosts",
        List.of("127.0.0.1", "::1", "localhost"),
        Function.identity(),
        Setting.Property.NodeScope
    );

    public static final Setting<Integer> MAX_REPLY_BYTES = Setting.intSetting(
        "divrank.sidecar.max_reply_bytes",
        8 * 1024 * 1024,
        1024,
        Setting.Property.NodeScope
    );

    /** The policy of this node's settings. */
    public static SidecarPolicy of(Settings settings) {
        Set<String> hosts = ALLOWED_HOSTS.get(settings).stream().map(SidecarPolicy::normalise).collect(Collectors.toUnmodifiableSet());
        return new SidecarPolicy(hosts, MAX_REPLY_BYTES.get(settings));
    }

    /** Whether a URL's host ({@code [::1]} or {@code ::1}, any case) is on the list. */
    public boolean allows(String host) {
        return host != null && allowedHosts.contains(normalise(host));
    }

    private static String normalise(String host) {
        String h = host.trim().toLowerCase(Locale.ROOT);
        return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
    }
}
