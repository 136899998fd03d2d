package org.divrank.opensearch;

import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentParser;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A validated {@code POST /v1/rerank} answer (docs/api.md). Anything that does not fit the
 * contract, or names an id outside the window, is rejected as {@code sidecar_bad_reply} so a
 * faulty sidecar can never add, drop or duplicate hits.
 *
 * @param ids          new order (a prefix of the window; ids the sidecar left out keep engine order after it)
 * @param scores       fused score per id, same length as {@code ids}, or empty
 * @param strategy     strategy the sidecar applied
 * @param modelVersion fusion model version, may be {@code null}
 * @param explanations explanation object per id (only when asked)
 */
public record SidecarReply(
    List<String> ids,
    List<Double> scores,
    String strategy,
    String modelVersion,
    Map<String, Map<String, Object>> explanations
) {

    /**
     * Parses and checks a reply body against the window it answers.
     *
     * @param body      the HTTP body
     * @param windowIds ids sent as candidates
     * @throws SidecarFailure {@code sidecar_bad_reply} when the body breaks the contract
     */
    @SuppressWarnings("unchecked")
    public static SidecarReply parse(byte[] body, Set<String> windowIds) throws SidecarFailure {
        Map<String, Object> map;
        try (
            XContentParser parser = JsonXContent.jsonXContent.createParser(
                NamedXContentRegistry.EMPTY,
                DeprecationHandler.THROW_UNSUPPORTED_OPERATION,
                body
            )
        ) {
            map = parser.mapOrdered();
        } catch (Exception e) {
            throw bad("body is not a JSON object", e);
        }
        if (!(map.get("ids") instanceof List<?> rawIds)) {
            throw bad("missing list field [ids]", null);
        }
        List<String> ids = new ArrayList<>(rawIds.size());
        Set<String> seen = new HashSet<>();
        for (Object id : rawIds) {
            if (!(id instanceof String text)) {
                throw bad("[ids] must hold strings, got [" + id + "]", null);
            }
            if (!windowIds.contains(text)) {
                throw bad("[ids] names [" + text + "], which is not a candidate", null);
            }
            if (!seen.add(text)) {
                throw bad("[ids] repeats [" + text + "]", null);
            }
            ids.add(text);
        }
        List<Double> scores = Collections.emptyList();
        if (map.get("scores") instanceof List<?> rawScores) {
            if (rawScores.size() != ids.size()) {
                throw bad("[scores] has " + rawScores.size() + " entries for " + ids.size() + " ids", null);
            }
            scores = new ArrayList<>(rawScores.size());
            for (Object s : rawScores) {
                if (s != null && !(s instanceof Number)) {
                    throw bad("[scores] must hold numbers, got [" + s + "]", null);
                }
                scores.add(s == null ? null : ((Number) s).doubleValue());
            }
        } else if (map.get("scores") != null) {
            throw bad("[scores] must be a list", null);
        }
        String strategy = map.get("strategy") instanceof String s ? s : null;
        String modelVersion = map.get("model_version") instanceof String s ? s : null;
        Map<String, Map<String, Object>> explanations = new HashMap<>();
        if (map.get("explanations") instanceof List<?> rawExplanations) {
            for (Object item : rawExplanations) {
                if (item instanceof Map<?, ?> explanation && explanation.get("id") instanceof String id && seen.contains(id)) {
                    explanations.put(id, (Map<String, Object>) explanation);
                }
            }
        }
        return new SidecarReply(List.copyOf(ids), scores, strategy, modelVersion, explanations);
    }

    private static SidecarFailure bad(String message, Throwable cause) {
        return new SidecarFailure("sidecar_bad_reply", "sidecar reply does not follow /v1/rerank: " + message, cause);
    }
}
