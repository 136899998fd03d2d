package org.divrank.opensearch;

import org.opensearch.ingest.ConfigurationUtils;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code divrank} processor's pipeline config. Parsing sits here, apart from the processor,
 * so every key's default and validation live in one place; any invalid value fails the pipeline
 * creation with a 400 naming the key ({@link ConfigurationUtils}).
 *
 * @param sidecarUrls sidecar base URLs (1 to {@value #MAX_SIDECARS}), each on the node allow-list
 * @param connectMs   connect timeout
 * @param readMs      time allowed for the answer once connected
 * @param fields      where the candidate features live in {@code _source}
 * @param defaults    knobs used where the request's {@code ext.divrank} says nothing
 * @param failOpen    whether a failed re-rank returns the engine's order instead of an error
 */
record ProcessorConfig(List<URI> sidecarUrls, int connectMs, int readMs, CandidateFields fields, Knobs defaults, boolean failOpen) {

    static final String SIDECAR_URL = "sidecar_url";
    static final String CONNECT_TIMEOUT_MS = "connect_timeout_ms";
    static final String READ_TIMEOUT_MS = "read_timeout_ms";
    static final String EMBEDDING_FIELD = "embedding_field";
    static final String CATEGORY_FIELD = "category_field";
    static final String BRAND_FIELD = "brand_field";
    static final String PRICE_FIELD = "price_field";
    static final String TITLE_FIELD = "title_field";
    static final String POPULARITY_FIELD = "popularity_field";
    static final String DEFAULT_DIVERSITY = "default_diversity";
    static final String DEFAULT_STRATEGY = "default_strategy";
    static final String FAIL_OPEN = "fail_open";
    static final String SEND_EMBEDDINGS = "send_embeddings";

    /** Default sidecar address (reranker settings: 127.0.0.1:8600). */
    static final String DEFAULT_SIDECAR_URL = "http://127.0.0.1:8600";
    static final int MAX_SIDECARS = 16;
    static final int DEFAULT_CONNECT_MS = 200;
    static final int DEFAULT_READ_MS = 1000;
    static final int MAX_TIMEOUT_MS = 60_000;
    static final double DEFAULT_DIVERSITY_VALUE = 0.2;

    private static final String TYPE = DivrankResponseProcessor.TYPE;

    ProcessorConfig {
        sidecarUrls = List.copyOf(sidecarUrls);
    }

    /**
     * Reads (and removes) the processor's keys from a pipeline definition.
     *
     * @param tag    processor tag, named in errors
     * @param config the processor's config map; keys left over are reported by the engine
     * @param policy node policy: a {@code sidecar_url} host must be on its allow-list
     */
    static ProcessorConfig parse(String tag, Map<String, Object> config, SidecarPolicy policy) {
        List<URI> bases = new ArrayList<>();
        for (String url : sidecarUrls(tag, config)) {
            URI base = sidecarUri(tag, url);
            if (!policy.allows(base.getHost())) {
                // refused before any connection: the token and the hits never go there
                throw ConfigurationUtils.newConfigurationException(
                    TYPE,
                    tag,
                    SIDECAR_URL,
                    "host [" + base.getHost() + "] is not in the node setting divrank.sidecar.allowed_hosts "
                        + policy.allowedHosts().stream().sorted().toList() + "; an operator adds it in opensearch.yml"
                );
            }
            bases.add(base);
        }
        int connectMs = timeout(tag, config, CONNECT_TIMEOUT_MS, DEFAULT_CONNECT_MS);
        int readMs = timeout(tag, config, READ_TIMEOUT_MS, DEFAULT_READ_MS);
        CandidateFields fields = new CandidateFields(
            field(tag, config, EMBEDDING_FIELD, CandidateFields.DEFAULTS.embedding()),
            field(tag, config, CATEGORY_FIELD, CandidateFields.DEFAULTS.category()),
            field(tag, config, BRAND_FIELD, CandidateFields.DEFAULTS.brand()),
            field(tag, config, PRICE_FIELD, CandidateFields.DEFAULTS.price()),
            field(tag, config, TITLE_FIELD, CandidateFields.DEFAULTS.title()),
            field(tag, config, POPULARITY_FIELD, CandidateFields.DEFAULTS.popularity()),
            ConfigurationUtils.readBooleanProperty(TYPE, tag, config, SEND_EMBEDDINGS, true)
        );
        double diversity = diversity(tag, config);
        Strategy strategy = strategy(tag, config);
        boolean failOpen = ConfigurationUtils.readBooleanProperty(TYPE, tag, config, FAIL_OPEN, true);
        return new ProcessorConfig(bases, connectMs, readMs, fields, new Knobs(diversity, strategy, false, null, null, null), failOpen);
    }

    /** {@code sidecar_url}: one URL, or a list of them (several sidecars). */
    private static List<String> sidecarUrls(String tag, Map<String, Object> config) {
        Object raw = config.remove(SIDECAR_URL);
        if (raw == null) {
            return List.of(DEFAULT_SIDECAR_URL);
        }
        if (raw instanceof String url) {
            return List.of(url);
        }
        if (raw instanceof List<?> list
            && !list.isEmpty()
            && list.size() <= MAX_SIDECARS
            && list.stream().allMatch(u -> u instanceof String)) {
            return list.stream().map(String.class::cast).toList();
        }
        throw ConfigurationUtils.newConfigurationException(
            TYPE, tag, SIDECAR_URL, "must be a URL or a list of 1 to " + MAX_SIDECARS + " URLs, got [" + raw + "]"
        );
    }

    private static URI sidecarUri(String tag, String url) {
        try {
            URI uri = new URI(url);
            String scheme = uri.getScheme();
            if (scheme == null || !(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
                throw ConfigurationUtils.newConfigurationException(
                    TYPE, tag, SIDECAR_URL, "must be an http(s) URL with a host, like " + DEFAULT_SIDECAR_URL + ", got [" + url + "]"
                );
            }
            if (uri.getQuery() != null || uri.getFragment() != null || uri.getUserInfo() != null) {
                throw ConfigurationUtils.newConfigurationException(
                    TYPE, tag, SIDECAR_URL, "must not carry credentials, a query or a fragment (put the token in the keystore)"
                );
            }
            return uri;
        } catch (URISyntaxException e) {
            throw ConfigurationUtils.newConfigurationException(TYPE, tag, SIDECAR_URL, "is not a valid URL: [" + url + "]");
        }
    }

    private static int timeout(String tag, Map<String, Object> config, String key, int fallback) {
        int value = ConfigurationUtils.readIntProperty(TYPE, tag, config, key, fallback);
        if (value < 1 || value > MAX_TIMEOUT_MS) {
            throw ConfigurationUtils.newConfigurationException(TYPE, tag, key, "must be in [1, " + MAX_TIMEOUT_MS + "] ms, got " + value);
        }
        return value;
    }

    /** A {@code _source} field name; dotted paths ({@code meta.title}) are allowed. */
    private static String field(String tag, Map<String, Object> config, String key, String fallback) {
        String value = ConfigurationUtils.readStringProperty(TYPE, tag, config, key, fallback);
        if (value.isBlank()) {
            throw ConfigurationUtils.newConfigurationException(TYPE, tag, key, "must be a non-empty field name");
        }
        return value;
    }

    private static double diversity(String tag, Map<String, Object> config) {
        if (!config.containsKey(DEFAULT_DIVERSITY)) {
            return DEFAULT_DIVERSITY_VALUE;
        }
        Object raw = config.remove(DEFAULT_DIVERSITY);
        try {
            return DivrankSearchExt.unitInterval(DEFAULT_DIVERSITY, raw);
        } catch (IllegalArgumentException e) {
            throw ConfigurationUtils.newConfigurationException(TYPE, tag, DEFAULT_DIVERSITY, "must be a number in [0, 1], got [" + raw + "]");
        }
    }

    private static Strategy strategy(String tag, Map<String, Object> config) {
        String name = ConfigurationUtils.readStringProperty(TYPE, tag, config, DEFAULT_STRATEGY, Strategy.FUSION.wireName());
        try {
            return Strategy.parse(DEFAULT_STRATEGY, name.toLowerCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw ConfigurationUtils.newConfigurationException(
                TYPE, tag, DEFAULT_STRATEGY, "must be one of [" + Strategy.names() + "], got [" + name + "]"
            );
        }
    }
}
