package org.divrank.opensearch;

import org.opensearch.common.document.DocumentField;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.common.xcontent.support.XContentMapValues;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.search.SearchHit;
import org.opensearch.search.fetch.subphase.FetchSourceContext;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the ordered window into the caller's page: {@code from}/{@code size} cut out of it, each
 * hit's {@code _source} as the caller asked for it (the embedding fetched for the sidecar stripped
 * again) and, when asked, its explanation. Apart from the processor so the response shape can be
 * read without the async and failure plumbing.
 */
final class PageCutter {

    private PageCutter() {}

    /** The window in the sidecar's order; ids it left out keep engine order after its list. */
    static List<SearchHit> inSidecarOrder(SearchHit[] window, SidecarReply reply) {
        Map<String, SearchHit> byId = new LinkedHashMap<>();
        for (SearchHit hit : window) {
            byId.put(hit.getId(), hit);
        }
        List<SearchHit> order = new ArrayList<>(window.length);
        for (String id : reply.ids()) {
            order.add(byId.remove(id));
        }
        order.addAll(byId.values());
        return order;
    }

    /**
     * The caller's page out of the ordered window, with {@code _source} shaped as they asked.
     *
     * @param order          the window, ordered
     * @param page           the caller's page and {@code _source} filter
     * @param embeddingField the vector field to strip unless asked for
     * @param reply          the sidecar's answer, {@code null} in engine order (no explanations)
     * @param explain        whether per-hit explanations were asked for
     * @param scanned        per id, the raw-source scan when the body builder made one
     */
    static SearchHit[] cut(
        List<SearchHit> order,
        PageState page,
        String embeddingField,
        SidecarReply reply,
        boolean explain,
        Map<String, SourceScan.Features> scanned
    ) throws IOException {
        int from = Math.min(page.from(), order.size());
        int to = (int) Math.min((long) page.from() + page.size(), order.size());
        boolean explained = reply != null && explain;
        Map<String, Double> fused = new HashMap<>();
        if (explained) {
            for (int i = 0; i < reply.ids().size(); i++) {
                if (i < reply.scores().size()) fused.put(reply.ids().get(i), reply.scores().get(i));
            }
        }
        SearchHit[] out = new SearchHit[to - from];
        for (int i = from; i < to; i++) {
            SearchHit hit = order.get(i);
            RerankBody.takeFetchedVector(hit); // already gone unless the body was never built
            shapeSource(hit, page, embeddingField, scanned.get(hit.getId()));
            if (explained) {
                explain(hit, i, reply.explanations().get(hit.getId()), fused.get(hit.getId()));
            }
            out[i - from] = hit;
        }
        return out;
    }

    private static void explain(SearchHit hit, int rank, Map<String, Object> fromSidecar, Double fused) {
        Map<String, Object> explanation = new LinkedHashMap<>();
        if (fromSidecar != null) {
            explanation.putAll(fromSidecar);
            explanation.remove("id");
        }
        if (!explanation.containsKey("fused") && fused != null) {
            explanation.put("fused", fused);
        }
        explanation.put("engine_score", Float.isNaN(hit.getScore()) ? null : Float.valueOf(hit.getScore()));
        explanation.put("rank", rank);
        String name = DivrankResponseProcessor.EXPLANATION_FIELD;
        hit.setDocumentField(name, new DocumentField(name, List.of(explanation)));
    }

    /** Re-applies the caller's {@code _source} filter and strips the embedding unless they asked for it. */
    private static void shapeSource(SearchHit hit, PageState page, String embeddingField, SourceScan.Features features)
        throws IOException {
        if (!hit.hasSource()) {
            return;
        }
        FetchSourceContext caller = page.callerSource();
        if (!page.sourceWidened() && features != null) {
            // Common case (no caller filter): cut the embedding out of the raw bytes.
            BytesReference stripped = SourceScan.withoutEmbedding(features);
            if (stripped != null) {
                hit.sourceRef(stripped);
            }
            return;
        }
        if (page.sourceWidened() && caller != null && !caller.fetchSource()) {
            hit.sourceRef(null);
            return;
        }
        Map<String, Object> source = hit.getSourceAsMap();
        boolean changed = false;
        if (page.sourceWidened() && caller != null) {
            source = XContentMapValues.filter(source, caller.includes(), caller.excludes());
            changed = true;
        }
        boolean asked = caller != null && caller.fetchSource() && caller.includes().length > 0;
        if (!asked && XContentMapValues.extractValue(embeddingField, source) != null) {
            source = XContentMapValues.filter(source, new String[0], new String[] { embeddingField });
            changed = true;
        }
        if (changed) {
            try (XContentBuilder b = JsonXContent.contentBuilder()) {
                b.map(source);
                hit.sourceRef(BytesReference.bytes(b));
            }
        }
    }
}
