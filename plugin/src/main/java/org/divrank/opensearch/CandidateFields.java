package org.divrank.opensearch;

/**
 * Where the candidate features live in each hit's {@code _source} (dotted paths allowed).
 *
 * @param embedding vector field, also stripped from the returned page unless asked for
 * @param category  category path ({@code a/b/c}, or a list of levels joined with {@code /})
 * @param brand     brand keyword
 * @param price     numeric price
 * @param title     product title, for the sidecar's learned relevance model
 * @param popularity item prior (how many shoppers had it), for the sidecar's personalisation
 * @param sendEmbedding whether vectors travel in the request; when false the sidecar looks them
 *                      up by id in the hit's index (its LRU cache makes repeated items cheap)
 */
public record CandidateFields(
    String embedding,
    String category,
    String brand,
    String price,
    String title,
    String popularity,
    boolean sendEmbedding
) {

    /** Longest title sent; the relevance features read the first words, and it bounds the request. */
    public static final int MAX_TITLE_CHARS = 512;

    /** The field names the divrank indexer writes; vectors are sent. */
    public static final CandidateFields DEFAULTS = new CandidateFields("embedding", "category", "brand", "price", "title", "popularity", true);
}
