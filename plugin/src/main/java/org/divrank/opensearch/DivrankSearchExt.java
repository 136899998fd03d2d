package org.divrank.opensearch;

import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.search.SearchExtBuilder;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The {@code ext.divrank} block of a search request: who searches and how much diversity they want.
 *
 * <p>Every field is optional; an absent field falls back to the pipeline's default. Parsing is
 * strict so a typo answers 400 naming the field instead of silently using a default.
 */
public final class DivrankSearchExt extends SearchExtBuilder {

    /** Name under {@code ext} and writeable name. */
    public static final String NAME = "divrank";
    /** Upper bound for {@code window_size} (the sidecar's default candidate limit). */
    public static final int MAX_WINDOW = 1000;
    /** Upper bound for {@code history.item_ids} (the sidecar accepts 500). */
    public static final int MAX_HISTORY = 500;

    static final String USER_ID = "user_id";
    static final String DIVERSITY = "diversity";
    static final String STRATEGY = "strategy";
    static final String EXPLAIN = "explain";
    static final String HISTORY = "history";
    static final String ITEM_IDS = "item_ids";
    static final String WINDOW_SIZE = "window_size";
    static final String MAX_PER_BRAND = "max_per_brand";
    static final String MAX_PER_CATEGORY = "max_per_category";
    static final String RELEVANCE_MODEL = "relevance_model";

    private static final Set<String> FIELDS = Set.of(
        USER_ID, DIVERSITY, STRATEGY, EXPLAIN, HISTORY, WINDOW_SIZE, MAX_PER_BRAND, MAX_PER_CATEGORY, RELEVANCE_MODEL
    );

    private final String userId;
    private final Double diversity;
    private final Strategy strategy;
    private final Boolean explain;
    private final List<String> historyItemIds;
    private final Integer windowSize;
    private final Integer maxPerBrand;
    private final Integer maxPerCategory;
    private final Boolean relevanceModel;

    /** All-optional constructor; {@code null} means "use the pipeline default". */
    public DivrankSearchExt(
        String userId,
        Double diversity,
        Strategy strategy,
        Boolean explain,
        List<String> historyItemIds,
        Integer windowSize,
        Integer maxPerBrand,
        Integer maxPerCategory,
        Boolean relevanceModel
    ) {
        this.userId = userId;
        this.diversity = diversity;
        this.strategy = strategy;
        this.explain = explain;
        this.historyItemIds = historyItemIds == null ? null : List.copyOf(historyItemIds);
        this.windowSize = windowSize;
        this.maxPerBrand = maxPerBrand;
        this.maxPerCategory = maxPerCategory;
        this.relevanceModel = relevanceModel;
    }

    /** Transport constructor: the coordinating node copies requests through the stream. */
    public DivrankSearchExt(StreamInput in) throws IOException {
        this.userId = in.readOptionalString();
        this.diversity = in.readOptionalDouble();
        String strategyName = in.readOptionalString();
        this.strategy = strategyName == null ? null : Strategy.parse(STRATEGY, strategyName);
        this.explain = in.readOptionalBoolean();
        this.historyItemIds = in.readOptionalStringList();
        this.windowSize = in.readOptionalVInt();
        this.maxPerBrand = in.readOptionalVInt();
        this.maxPerCategory = in.readOptionalVInt();
        this.relevanceModel = in.readOptionalBoolean();
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        out.writeOptionalString(userId);
        out.writeOptionalDouble(diversity);
        out.writeOptionalString(strategy == null ? null : strategy.wireName());
        out.writeOptionalBoolean(explain);
        out.writeOptionalStringCollection(historyItemIds);
        out.writeOptionalVInt(windowSize);
        out.writeOptionalVInt(maxPerBrand);
        out.writeOptionalVInt(maxPerCategory);
        out.writeOptionalBoolean(relevanceModel);
    }

    @Override
    public String getWriteableName() {
        return NAME;
    }

    @Override
    public XContentBuilder toXContent(XContentBuilder builder, Params params) throws IOException {
        builder.startObject(NAME);
        if (userId != null) builder.field(USER_ID, userId);
        if (diversity != null) builder.field(DIVERSITY, diversity);
        if (strategy != null) builder.field(STRATEGY, strategy.wireName());
        if (explain != null) builder.field(EXPLAIN, explain);
        if (historyItemIds != null) {
            builder.startObject(HISTORY).field(ITEM_IDS, historyItemIds).endObject();
        }
        if (windowSize != null) builder.field(WINDOW_SIZE, windowSize);
        if (maxPerBrand != null) builder.field(MAX_PER_BRAND, maxPerBrand);
        if (maxPerCategory != null) builder.field(MAX_PER_CATEGORY, maxPerCategory);
        if (relevanceModel != null) builder.field(RELEVANCE_MODEL, relevanceModel);
        return builder.endObject();
    }

    /**
     * Parses {@code ext.divrank}; the parser stands on the block's START_OBJECT.
     *
     * @throws IllegalArgumentException (400) naming the offending field
     */
    public static DivrankSearchExt parse(XContentParser parser) throws IOException {
        if (parser.currentToken() != XContentParser.Token.START_OBJECT) {
            throw new IllegalArgumentException("[ext.divrank] must be an object");
        }
        return fromMap(parser.map());
    }

    /** Validates a parsed block; public for tests and for the REST-free code paths. */
    public static DivrankSearchExt fromMap(Map<String, Object> map) {
        for (String key : map.keySet()) {
            if (!FIELDS.contains(key)) {
                throw new IllegalArgumentException(
                    "[ext.divrank." + key + "] is not a known field; expected one of " + new java.util.TreeSet<>(FIELDS)
                );
            }
        }
        String userId = optionalString(map, USER_ID);
        Double diversity = null;
        if (map.get(DIVERSITY) != null) {
            diversity = unitInterval("ext.divrank." + DIVERSITY, map.get(DIVERSITY));
        }
        Strategy strategy = map.get(STRATEGY) == null ? null : Strategy.parse("ext.divrank." + STRATEGY, map.get(STRATEGY));
        Boolean explain = optionalFlag(map, EXPLAIN);
        Boolean relevanceModel = optionalFlag(map, RELEVANCE_MODEL);
        List<String> history = map.get(HISTORY) == null ? null : historyIds(map.get(HISTORY));
        Integer window = optionalInt(map, WINDOW_SIZE, 1, MAX_WINDOW);
        Integer maxPerBrand = optionalInt(map, MAX_PER_BRAND, 1, MAX_WINDOW);
        Integer maxPerCategory = optionalInt(map, MAX_PER_CATEGORY, 1, MAX_WINDOW);
        return new DivrankSearchExt(userId, diversity, strategy, explain, history, window, maxPerBrand, maxPerCategory, relevanceModel);
    }

    private static Boolean optionalFlag(Map<String, Object> map, String key) {
        Object value = map.get(key);
        if (value == null) {
            return null;
        }
        if (!(value instanceof Boolean flag)) {
            throw new IllegalArgumentException("[ext.divrank." + key + "] must be true or false, got [" + value + "]");
        }
        return flag;
    }

    /** The first divrank block among a request's ext builders, or {@code null}. */
    public static DivrankSearchExt find(List<SearchExtBuilder> builders) {
        if (builders == null) {
            return null;
        }
        for (SearchExtBuilder builder : builders) {
            if (builder instanceof DivrankSearchExt ext) {
                return ext;
            }
        }
        return null;
    }

    static double unitInterval(String field, Object value) {
        if (!(value instanceof Number number)) {
            throw new IllegalArgumentException("[" + field + "] must be a number in [0, 1], got [" + value + "]");
        }
        double d = number.doubleValue();
        if (!(d >= 0.0 && d <= 1.0)) {
            throw new IllegalArgumentException("[" + field + "] must be a number in [0, 1], got [" + value + "]");
        }
        return d;
    }

    private static String optionalString(Map<String, Object> map, String key) {
        Object value = map.get(key);
        if (value == null) {
            return null;
        }
        if (!(value instanceof String text) || text.isBlank()) {
            throw new IllegalArgumentException("[ext.divrank." + key + "] must be a non-empty string, got [" + value + "]");
        }
        return text;
    }

    private static Integer optionalInt(Map<String, Object> map, String key, int min, int max) {
        Object value = map.get(key);
        if (value == null) {
            return null;
        }
        boolean integral = value instanceof Integer || value instanceof Long || value instanceof Short;
        long v = integral ? ((Number) value).longValue() : Long.MIN_VALUE;
        if (!integral || v < min || v > max) {
            throw new IllegalArgumentException(
                "[ext.divrank." + key + "] must be an integer in [" + min + ", " + max + "], got [" + value + "]"
            );
        }
        return (int) v;
    }

    private static List<String> historyIds(Object value) {
        if (!(value instanceof Map<?, ?> history)) {
            throw new IllegalArgumentException("[ext.divrank.history] must be an object like {\"item_ids\": [...]}");
        }
        for (Object key : history.keySet()) {
            if (!ITEM_IDS.equals(key)) {
                throw new IllegalArgumentException("[ext.divrank.history." + key + "] is not a known field; expected [item_ids]");
            }
        }
        Object ids = history.get(ITEM_IDS);
        if (ids == null) {
            return Collections.emptyList();
        }
        if (!(ids instanceof List<?> list)) {
            throw new IllegalArgumentException("[ext.divrank.history.item_ids] must be a list of strings");
        }
        if (list.size() > MAX_HISTORY) {
            throw new IllegalArgumentException("[ext.divrank.history.item_ids] holds more than " + MAX_HISTORY + " ids");
        }
        // one id per event, oldest first, repeats kept: a repeat purchase is the item memory
        List<String> out = new ArrayList<>(list.size());
        for (Object id : list) {
            if (id instanceof String text && !text.isEmpty()) {
                out.add(text);
            } else if (id instanceof Number number) {
                out.add(number.toString());
            } else {
                throw new IllegalArgumentException("[ext.divrank.history.item_ids] must hold non-empty strings, got [" + id + "]");
            }
        }
        return out;
    }

    public String userId() {
        return userId;
    }

    public Double diversity() {
        return diversity;
    }

    public Strategy strategy() {
        return strategy;
    }

    public Boolean explain() {
        return explain;
    }

    public List<String> historyItemIds() {
        return historyItemIds;
    }

    public Integer windowSize() {
        return windowSize;
    }

    public Integer maxPerBrand() {
        return maxPerBrand;
    }

    public Integer maxPerCategory() {
        return maxPerCategory;
    }

    /** Whether the sidecar ranks by its learned relevance model; {@code null} = its default (on). */
    public Boolean relevanceModel() {
        return relevanceModel;
    }

    @Override
    public boolean equals(Object obj) {
        if (this == obj) return true;
        if (!(obj instanceof DivrankSearchExt other)) return false;
        return Objects.equals(userId, other.userId)
            && Objects.equals(diversity, other.diversity)
            && strategy == other.strategy
            && Objects.equals(explain, other.explain)
            && Objects.equals(historyItemIds, other.historyItemIds)
            && Objects.equals(windowSize, other.windowSize)
            && Objects.equals(maxPerBrand, other.maxPerBrand)
            && Objects.equals(maxPerCategory, other.maxPerCategory)
            && Objects.equals(relevanceModel, other.relevanceModel);
    }

    @Override
    public int hashCode() {
        return Objects.hash(userId, diversity, strategy, explain, historyItemIds, windowSize, maxPerBrand, maxPerCategory, relevanceModel);
    }
}
