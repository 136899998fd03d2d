package org.divrank.opensearch;

import org.opensearch.core.xcontent.NamedXContentRegistry;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** {@code divrank_window} processors for tests, built through the pipeline factory as a pipeline definition would. */
final class WindowProcessors {

    private WindowProcessors() {}

    /** The given window; vectors stay in {@code _source}. */
    static WindowRequestProcessor window(int size) {
        return create(Map.of("window_size", size, "fetch_vectors", false));
    }

    /** The given window and fetch exclusions; vectors stay in {@code _source}. */
    static WindowRequestProcessor window(int size, List<String> exclude) {
        return create(Map.of("window_size", size, "exclude_from_window", exclude, "fetch_vectors", false));
    }

    /** The given window, fetching {@code vectorField} as binary. */
    static WindowRequestProcessor fetchingVectors(int size, String vectorField) {
        return create(Map.of("window_size", size, "vector_field", vectorField, "fetch_vectors", true));
    }

    /** A lean window (doc values only), fetching {@code embedding} as binary; {@code extra} adds config. */
    static WindowRequestProcessor lean(int size, Map<String, Object> extra) {
        Map<String, Object> config = new HashMap<>(Map.of("window_size", size, "lean_window", true));
        config.putAll(extra);
        return create(config);
    }

    static WindowRequestProcessor create(Map<String, Object> config) {
        return new WindowRequestProcessor.Factory(NamedXContentRegistry.EMPTY).create(Map.of(), "test", null, false, new HashMap<>(config), null);
    }
}
