package org.divrank.opensearch;

import org.opensearch.core.rest.RestStatus;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.rest.BaseRestHandler;
import org.opensearch.rest.BytesRestResponse;
import org.opensearch.rest.RestRequest;
import org.opensearch.transport.client.node.NodeClient;

import java.util.List;

/** {@code GET _plugins/divrank/stats}: this node's divrank counters (requests, degraded per reason…). */
public final class RestDivrankStatsAction extends BaseRestHandler {

    /** Route of the endpoint. */
    public static final String PATH = "/_plugins/divrank/stats";

    private final DivrankStats stats;

    public RestDivrankStatsAction(DivrankStats stats) {
        this.stats = stats;
    }

    @Override
    public String getName() {
        return "divrank_stats";
    }

    @Override
    public List<Route> routes() {
        return List.of(new Route(RestRequest.Method.GET, PATH));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        return channel -> {
            XContentBuilder builder = channel.newBuilder();
            stats.toXContent(builder, request);
            channel.sendResponse(new BytesRestResponse(RestStatus.OK, builder));
        };
    }
}
