package org.divrank.opensearch;

import org.opensearch.action.search.SearchRequest;
import org.opensearch.common.document.DocumentField;
import org.opensearch.ingest.ConfigurationUtils;
import org.opensearch.search.SearchHit;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.search.fetch.subphase.FetchSourceContext;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The window read from doc values only ({@code lean_window} on {@code divrank_window}): no stored
 * fields, no {@code _source}; the page's {@code _source}s are read after re-ranking
 * ({@link PageSources}).
 *
 * <p>Why: a hit's {@code _id} and {@code _source} live in Lucene's compressed stored fields, and
 * decompressing them for 100 window hits was half of the node's CPU per piped search (JFR), while
 * only the 10 hits of the page are shown. The id then comes from a keyword field with doc values
 * that the divrank indexer writes ({@code item_id}); the features from doc values.
 *
 * @param id         keyword field holding the document id (doc values)
 * @param category   category path keyword
 * @param brand      brand keyword
 * @param price      numeric price
 * @param title      keyword copy of the title ({@code title.raw})
 * @param popularity numeric item prior
 */
public record LeanWindow(String id, String category, String brand, String price, String title, String popularity) {

    static final String LEAN_WINDOW = "lean_window";
    static final String LEAN_FIELDS = "lean_fields";

    /** The fields the divrank indexer writes with doc values. */
    public static final LeanWindow DEFAULTS = new LeanWindow("item_id", "category", "brand", "price", "title.raw", "popularity");

    /** Every field read, id first. */
    List<String> fields() {
        return List.of(id, category, brand, price, title, popularity);
    }

    /**
     * Reads {@code lean_window} (default false) and the optional {@code lean_fields} overrides;
     * {@code null} when the window keeps its stored fields.
     */
    static LeanWindow parse(String type, String tag, Map<String, Object> config) {
        boolean on = ConfigurationUtils.readBooleanProperty(type, tag, config, LEAN_WINDOW, false);
        Map<String, Object> raw = ConfigurationUtils.readOptionalMap(type, tag, config, LEAN_FIELDS);
        if (!on) {
            if (raw != null) {
                throw ConfigurationUtils.newConfigurationException(type, tag, LEAN_FIELDS, "needs [" + LEAN_WINDOW + ": true]");
            }
            return null;
        }
        Map<String, String> roles = DEFAULTS.byRole();
        for (Map.Entry<String, Object> entry : raw == null ? Set.<Map.Entry<String, Object>>of() : raw.entrySet()) {
            if (!roles.containsKey(entry.getKey())) { // only known roles are ever put back
                throw ConfigurationUtils.newConfigurationException(
                    type, tag, LEAN_FIELDS, "unknown key [" + entry.getKey() + "], expected one of " + roles.keySet()
                );
            }
            if (!(entry.getValue() instanceof String name) || name.isBlank()) {
                throw ConfigurationUtils.newConfigurationException(
                    type, tag, LEAN_FIELDS, "[" + entry.getKey() + "] must be a field name, got [" + entry.getValue() + "]"
                );
            }
            roles.put(entry.getKey(), name);
        }
        return new LeanWindow(
            roles.get("id"), roles.get("category"), roles.get("brand"), roles.get("price"), roles.get("title"), roles.get("popularity")
        );
    }

    private Map<String, String> byRole() {
        Map<String, String> roles = new LinkedHashMap<>();
        roles.put("id", id);
        roles.put("category", category);
        roles.put("brand", brand);
        roles.put("price", price);
        roles.put("title", title);
        roles.put("popularity", popularity);
        return roles;
    }

    /**
     * Why this request keeps the ordinary window, {@code null} when it can be lean. Anything the
     * fetch phase computes per hit beyond {@code _source} (highlights, stored or doc-value fields
     * the caller asked for, explanations, versions, collapse's inner hits, sort values) and
     * custom routing (the page is read back by id) keep it. A nested query's inner hits and
     * named queries are carried over.
     */
    static String ineligible(SearchRequest request, SearchSourceBuilder source) {
        if (request.routing() != null) return "routing";
        if (source.storedFields() != null) return "stored_fields";
        if (source.docValueFields() != null) return "docvalue_fields";
        if (source.fetchFields() != null && !source.fetchFields().isEmpty()) return "fields";
        if (source.scriptFields() != null && !source.scriptFields().isEmpty()) return "script_fields";
        if (source.highlighter() != null) return "highlight";
        if (Boolean.TRUE.equals(source.explain())) return "explain";
        if (Boolean.TRUE.equals(source.version())) return "version";
        if (Boolean.TRUE.equals(source.seqNoAndPrimaryTerm())) return "seq_no_primary_term";
        if (source.collapse() != null) return "collapse";
        if (source.sorts() != null && !source.sorts().isEmpty()) return "sort"; // even _score: its sort values
        for (String index : request.indices()) {
            if (index.indexOf(':') >= 0) return "remote_index";
        }
        return null;
    }

    /** Switches the window fetch to doc values: no stored fields, no {@code _source}. */
    void applyTo(SearchSourceBuilder source) {
        source.fetchSource(FetchSourceContext.DO_NOT_FETCH_SOURCE);
        source.storedFields(List.of("_none_"));
        for (String field : fields()) {
            source.docValueField(field);
        }
    }

    /**
     * The window with each hit's id taken from the id field; {@code null} when a hit has none
     * (an index written before the field existed): the window cannot be re-ranked then.
     */
    SearchHit[] identify(SearchHit[] window) {
        SearchHit[] out = new SearchHit[window.length];
        for (int i = 0; i < window.length; i++) {
            SearchHit hit = window[i];
            String value = string(hit, id);
            if (value == null) {
                return null;
            }
            SearchHit copy = new SearchHit(
                hit.docId(),
                value,
                hit.getNestedIdentity(),
                new HashMap<>(hit.getDocumentFields()),
                new HashMap<>(hit.getMetaFields())
            );
            copy.score(hit.getScore());
            copy.shard(hit.getShard());
            if (hit.getMatchedQueriesAndScores() != null && !hit.getMatchedQueriesAndScores().isEmpty()) {
                copy.matchedQueriesWithScores(hit.getMatchedQueriesAndScores());
            } else if (hit.getMatchedQueries() != null && hit.getMatchedQueries().length > 0) {
                copy.matchedQueries(hit.getMatchedQueries());
            }
            if (hit.getInnerHits() != null) {
                copy.setInnerHits(hit.getInnerHits()); // a nested query's inner_hits
            }
            out[i] = copy;
        }
        return out;
    }

    /** Removes the doc-value fields the window added (the caller did not ask for them). */
    void strip(SearchHit hit) {
        for (String field : fields()) {
            hit.removeDocumentField(field);
        }
    }

    /** The hit's values of a doc-value field, {@code null} when it has none. */
    static List<Object> docValues(SearchHit hit, String field) {
        DocumentField values = hit.field(field);
        return values == null ? null : values.getValues();
    }

    /** The field's first value as a non-empty string, else {@code null}. */
    static String string(SearchHit hit, String field) {
        List<Object> values = docValues(hit, field);
        return values != null && !values.isEmpty() && values.get(0) instanceof String text && !text.isEmpty() ? text : null;
    }
}
