package org.divrank.opensearch;

import org.opensearch.OpenSearchException;
import org.opensearch.action.get.MultiGetItemResponse;
import org.opensearch.action.get.MultiGetRequest;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.action.search.SearchResponse;
import org.opensearch.core.action.ActionListener;
import org.opensearch.search.SearchHit;
import org.opensearch.search.fetch.subphase.FetchSourceContext;
import org.opensearch.transport.client.Client;

/**
 * The engine reads a lean window ({@link LeanWindow}) needs after re-ranking: the page's
 * {@code _source}s, and the caller's search run again when the window had no ids.
 */
public interface PageSources {

    /** Search pipeline name that runs no pipeline (not even an index default). */
    String NO_PIPELINE = "_none";

    /**
     * Sets each page hit's {@code _source} as {@code source} filters it, read by index and id from
     * the refreshed documents the search reads too (not real-time: never an unrefreshed write). A
     * document deleted by a refresh since keeps no {@code _source}. Completes with the hits, or
     * fails when the engine could not read one.
     */
    void fill(SearchHit[] page, FetchSourceContext source, ActionListener<SearchHit[]> listener);

    /** Runs {@code request} (already outside any pipeline). */
    void search(SearchRequest request, ActionListener<SearchResponse> listener);

    /** Backed by the node's client: a multi-get and a search, both run with the caller's thread context. */
    static PageSources of(Client client) {
        return new PageSources() {
            @Override
            public void fill(SearchHit[] page, FetchSourceContext source, ActionListener<SearchHit[]> listener) {
                if (page.length == 0 || !source.fetchSource()) {
                    listener.onResponse(page);
                    return;
                }
                MultiGetRequest get = new MultiGetRequest().realtime(false).refresh(false);
                for (SearchHit hit : page) {
                    get.add(new MultiGetRequest.Item(hit.getIndex(), hit.getId()).fetchSourceContext(source));
                }
                client.multiGet(get, ActionListener.wrap(response -> {
                    MultiGetItemResponse[] items = response.getResponses();
                    for (int i = 0; i < page.length; i++) {
                        MultiGetItemResponse item = items[i];
                        if (item.isFailed()) {
                            listener.onFailure(
                                new OpenSearchException(
                                    "divrank lean window: could not read the _source of [{}] in [{}]",
                                    item.getFailure().getFailure(),
                                    item.getId(),
                                    item.getIndex()
                                )
                            );
                            return;
                        }
                        if (item.getResponse().isExists()) {
                            page[i].sourceRef(item.getResponse().getSourceAsBytesRef());
                        }
                    }
                    listener.onResponse(page);
                }, listener::onFailure));
            }

            @Override
            public void search(SearchRequest request, ActionListener<SearchResponse> listener) {
                client.search(request, listener);
            }
        };
    }
}
