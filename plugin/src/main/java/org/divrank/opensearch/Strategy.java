package org.divrank.opensearch;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The re-ranking strategies the sidecar accepts (docs/api.md, {@code knobs.strategy}). */
public enum Strategy {
    ENGINE,
    PERSONALIZED,
    MMR,
    DPP,
    FUSION;

    /** Lower-case name as it travels in JSON. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Comma-separated list of accepted names, for error messages. */
    public static String names() {
        return Arrays.stream(values()).map(Strategy::wireName).collect(Collectors.joining(", "));
    }

    /**
     * Parses a strategy name.
     *
     * @throws IllegalArgumentException naming {@code field} when the name is unknown
     */
    public static Strategy parse(String field, Object value) {
        if (value instanceof String text) {
            for (Strategy strategy : values()) {
                if (strategy.wireName().equals(text)) {
                    return strategy;
                }
            }
        }
        throw new IllegalArgumentException("[" + field + "] must be one of [" + names() + "], got [" + value + "]");
    }
}
