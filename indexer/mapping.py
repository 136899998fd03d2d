"""Index bodies (settings + mappings) for the item and profile indices.

Items: ``item_id`` (the id as a doc-values-only keyword, for the plugin's lean window), BM25
text (``title``, ``description``), keyword facets (``category`` and each path
level, ``brand``), ``price`` as float, ``attrs`` as a ``flat_object`` (Icecat has hundreds of
sparse attribute names; one object field keeps the mapping small), and ``embedding`` as a
``knn_vector`` (HNSW, lucene engine: the Maven k-NN zip has no faiss/nmslib libraries,
cosine). Vector storage:

- ``float32``: full precision in the graph.
- ``sq``: Lucene scalar quantisation of the graph (7-bit ints, ~4x less vector memory); the
  segment keeps the raw floats too, so the sidecar still reads exact vectors.
- ``byte``: we quantise to int8 before sending (``data_type: byte``); the index and
  ``_source`` hold the ints. Cosine ignores the scale, so the sidecar can use them as they are.

Vectors stay out of ``_source`` (``source_vectors=False``, the OpenSearch default): a results
page never shows them, and parsing 384 floats of JSON per fetched hit was most of the cost of
the pipeline's window fetch. The plugin and every divrank reader take them from the segment's
vector values instead (:mod:`config.vector_fetch`). ``byte`` storage keeps them in ``_source``:
384 small ints are cheap to carry, and with no ``_source`` filter it is the fastest bulk path
(``bench/index_throughput.py``); the plugin reads byte vectors from the segment too. So does
``source_vectors=True``, which OpenSearch's own MMR (``ext.mmr``) needs: it reads vectors from
``_source``.

Every divrank index carries ``_meta.divrank`` (alias, kind, complete flag, writer pid/host):
that is how :mod:`indexer.alias_swap` tells a finished version from a half-written orphan.
"""

from __future__ import annotations

from typing import Any

from indexer.items import CATEGORY_LEVELS, ID_FIELD

__all__ = [
    "HNSW_EF_CONSTRUCTION",
    "HNSW_M",
    "STORAGES",
    "item_index_body",
    "meta_block",
    "profile_index_body",
]

STORAGES = ("float32", "sq", "byte")
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 100


def _knn_field(
    dim: int,
    storage: str = "float32",
    m: int = HNSW_M,
    ef_construction: int = HNSW_EF_CONSTRUCTION,
) -> dict[str, Any]:
    if storage not in STORAGES:
        raise ValueError(f"vector storage {storage!r}: use one of {', '.join(STORAGES)}")
    if not 2 <= m <= 100 or not 2 <= ef_construction <= 4096:
        raise ValueError(f"HNSW m={m} / ef_construction={ef_construction} out of range")
    params: dict[str, Any] = {"m": m, "ef_construction": ef_construction}
    if storage == "sq":
        params["encoder"] = {"name": "sq"}
    field: dict[str, Any] = {
        "type": "knn_vector",
        "dimension": dim,
        "method": {
            "name": "hnsw",
            "engine": "lucene",
            "space_type": "cosinesimil",
            "parameters": params,
        },
    }
    if storage == "byte":
        field["data_type"] = "byte"
    return field


def meta_block(meta: dict[str, Any]) -> dict[str, Any]:
    return {"divrank": meta}


def _settings(shards: int, replicas: int) -> dict[str, Any]:
    return {
        "index": {
            "knn": True,
            # k-NN 3.x "derived source" drops vectors from stored _source and re-injects them
            # on fetch; on 3.5.0 that path hits AlreadyClosedException on the .vec slice after
            # scroll + profile queries (the shard then fails every GET). We store _source as sent.
            "knn.derived_source.enabled": False,
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            # No refreshes while bulk loading; the writer refreshes once at the end.
            "refresh_interval": "-1",
        }
    }


def item_index_body(
    dim: int,
    meta: dict[str, Any],
    storage: str = "float32",
    shards: int = 1,
    replicas: int = 0,
    m: int = HNSW_M,
    ef_construction: int = HNSW_EF_CONSTRUCTION,
    source_vectors: bool = False,
) -> dict[str, Any]:
    keyword = {"type": "keyword", "ignore_above": 512}
    properties: dict[str, Any] = {
        ID_FIELD: {"type": "keyword", "index": False},  # doc values only
        "title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
        "description": {"type": "text"},
        "category": keyword,
        "brand": {"type": "keyword", "ignore_above": 256, "fields": {"text": {"type": "text"}}},
        "price": {"type": "float"},
        "popularity": {"type": "float"},
        "attrs": {"type": "flat_object"},
        "embedding": _knn_field(dim, storage, m, ef_construction),
    }
    for depth in range(1, CATEGORY_LEVELS + 1):
        properties[f"category_l{depth}"] = keyword
    mappings: dict[str, Any] = {
        "dynamic": "strict", "_meta": meta_block(meta), "properties": properties
    }
    if not source_vectors and storage != "byte":
        mappings["_source"] = {"excludes": ["embedding"]}
    return {"settings": _settings(shards, replicas), "mappings": mappings}


def profile_index_body(dim: int, meta: dict[str, Any], replicas: int = 0) -> dict[str, Any]:
    """Profiles are read by id (``_id`` = user id); only the centroid is a searchable vector.

    ``interests`` (a list of vectors) and the histograms (open-ended keys) are kept in
    ``_source`` only (``enabled: false``): the sidecar reads them as they are.
    """
    stored = {"type": "object", "enabled": False}
    return {
        "settings": _settings(1, replicas),
        "mappings": {
            "dynamic": "strict",
            "_meta": meta_block(meta),
            "properties": {
                "user_id": {"type": "keyword"},
                "interests": stored,
                "interest_weights": stored,
                "centroid": _knn_field(dim),
                "category_hist": stored,
                "brand_hist": stored,
                "item_weights": stored,
                "repeats": {"type": "integer"},
                "repeat_chances": {"type": "integer"},
                "category_repeats": stored,
                "recent_item_ids": {"type": "keyword"},
                "updated_at": {"type": "date"},
            },
        },
    }
