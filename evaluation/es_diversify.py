"""Elasticsearch's native ``diversify`` retriever (MMR, 9.3+) as an outside reference.

The request pins the episode's own candidates with a ``knn`` retriever filtered to their ids
(``k`` = their number), so Elasticsearch diversifies exactly the window we re-rank, with
relevance = similarity to the episode's query vector — the same set-up as
:mod:`evaluation.opensearch_mmr`. Two behaviours of the retriever shape the result:

- it *selects* ``size`` hits by MMR (``λ·sim(q, d) − (1 − λ)·max sim(d, chosen)``) and returns
  them in the inner retriever's order, not in selection order; we map ``λ = 1 − diversity``;
- on 9.5.4 it returns no hits from an index that keeps vectors in ``_source``
  (``index.mapping.exclude_source_vectors: false``, which our item indices set for the hook).
  So it runs on a twin of the evaluated index with the server default, copied from it
  (:func:`diversify_twin`); the documents are the same, only ``_source`` differs.
  :func:`probe_section` shows it in the report with one real request sent to both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluation.strategies import IntArray, RerankContext
from indexer.engine_dialect import ELASTICSEARCH
from indexer.mapping import HNSW_EF_CONSTRUCTION, HNSW_M

__all__ = [
    "TWIN_SUFFIX",
    "ElasticsearchDiversify",
    "diversify_twin",
    "probe_section",
    "twin_name",
]

TWIN_SUFFIX = "-diversify"


def twin_name(index: str) -> str:
    return f"{index}{TWIN_SUFFIX}"


def copy_documents(client: Any, source: str, target: str, chunk_size: int = 500) -> None:
    """Every document of ``source`` into ``target`` (same ids), by scroll and bulk.

    Not ``helpers.reindex``: it asks ``_data_stream`` first, which this server lacks too.
    """
    helpers = ELASTICSEARCH.helpers
    hits = helpers.scan(client, index=source, size=chunk_size, query={"query": {"match_all": {}}})
    actions = ({"_index": target, "_id": h["_id"], "_source": h["_source"]} for h in hits)
    helpers.bulk(client.options(request_timeout=300), actions, chunk_size=chunk_size)


def _vector_field(client: Any, index: str, field: str) -> dict[str, Any]:
    mappings = client.indices.get_mapping(index=index)
    props = next(iter(mappings.values()))["mappings"]["properties"]
    if props.get(field, {}).get("type") != "dense_vector":
        raise ValueError(f"{index} has no dense_vector field {field!r} to diversify on")
    return dict(props[field])


def diversify_twin(client: Any, index: str, alias: str, vector_field: str = "embedding") -> str:
    """A copy of ``index`` that the ``diversify`` retriever can read (made once, then reused).

    Same mapping as the indexer writes (``ELASTICSEARCH.item_index_body``) except that vectors
    stay out of ``_source``; filled from ``index`` (scroll + bulk), so same ids and vectors.
    Twins of older versions of ``alias`` are deleted (the indexer's pruning does not see them:
    their names are not ``<alias>-<stamp>``).
    """
    twin = twin_name(index)
    want = int(client.count(index=index)["count"])
    if client.indices.exists(index=twin):
        if int(client.count(index=twin)["count"]) == want:
            return twin
        client.indices.delete(index=twin)
    field = _vector_field(client, index, vector_field)
    options = field.get("index_options") or {}
    body = ELASTICSEARCH.item_index_body(
        int(field["dims"]), {"kind": "items", "twin_of": index},
        m=int(options.get("m", HNSW_M)),
        ef_construction=int(options.get("ef_construction", HNSW_EF_CONSTRUCTION)),
        source_vectors=False,
    )  # fmt: skip
    client.indices.create(index=twin, body=body)
    # Client-side scroll + bulk: the integ-test server has no `_reindex` (a module it leaves out).
    copy_documents(client, index, twin)
    client.indices.put_settings(index=twin, body={"index": {"refresh_interval": None}})
    client.indices.refresh(index=twin)
    got = int(client.count(index=twin)["count"])
    if got != want:
        raise RuntimeError(f"reindexing {index} into {twin} copied {got} of {want} documents")
    for other in client.indices.get(index=f"{alias}-*{TWIN_SUFFIX}", ignore_unavailable=True):
        if other != twin:
            client.indices.delete(index=other)
    return twin


@dataclass(frozen=True)
class ElasticsearchDiversify:
    client: Any
    index: str  # the twin (see :func:`diversify_twin`)
    vector_field: str = "embedding"
    name: str = "es-diversify"
    knob_sensitive: bool = True

    def body(self, ctx: RerankContext, k: int, diversity: float) -> dict[str, Any]:
        vector = ctx.episode.query_embedding
        if vector is None:
            raise ValueError(f"episode {ctx.episode.qid} has no query vector for a k-NN query")
        ids = list(ctx.candidates.ids)
        query_vector = [float(x) for x in vector]
        inner = {"knn": {"field": self.vector_field, "query_vector": query_vector,
                         "k": len(ids), "num_candidates": len(ids),
                         "filter": {"ids": {"values": ids}}}}  # fmt: skip
        return {
            "_source": False,
            "retriever": {
                "diversify": {
                    "type": "mmr",
                    "field": self.vector_field,
                    "lambda": round(1.0 - float(diversity), 6),
                    "size": min(k, len(ids)),
                    "rank_window_size": len(ids),
                    "query_vector": query_vector,
                    "retriever": inner,
                }
            },
        }

    def __call__(self, ctx: RerankContext, k: int, diversity: float) -> IntArray:
        response = self.client.search(index=self.index, body=self.body(ctx, k, diversity))
        position = {item: i for i, item in enumerate(ctx.candidates.ids)}
        order = [position[h["_id"]] for h in response["hits"]["hits"] if h["_id"] in position]
        return np.asarray(order, dtype=np.int64)


def _abridged(body: dict[str, Any]) -> str:
    """The request as JSON with long vectors and id lists shortened (for the report)."""

    def short(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: short(v) for k, v in value.items()}
        if isinstance(value, list) and len(value) > 6:
            kind = "floats" if isinstance(value[0], float) else "ids"
            return [*value[:3], f"… {len(value)} {kind} in all"]
        return value

    return json.dumps(short(body), indent=1, ensure_ascii=False)


def _summary(response: Any) -> str:
    hits = response["hits"]
    ids = [h["_id"] for h in hits["hits"]]
    return (f"`hits.total.value` = {hits['total']['value']}, {len(ids)} hits returned"
            f"{': ' + ', '.join(ids) if ids else ''} (took {response['took']} ms)")  # fmt: skip


def probe_section(
    client: Any,
    serving: str,
    strategy: ElasticsearchDiversify,
    ctx: RerankContext,
    diversity: float = 0.5,
    k: int = 10,
) -> list[str]:
    """Markdown: one real request of the sweep, sent to the evaluated index and to the twin."""
    body = strategy.body(ctx, k, diversity)
    on_serving = client.search(index=serving, body=body)
    on_twin = client.search(index=strategy.index, body=body)
    version = client.nodes.info(filter_path="nodes.*.version")["nodes"]
    versions = ", ".join(sorted({str(n["version"]) for n in version.values()}))
    return [
        f"## The `diversify` retriever on Elasticsearch {versions}",
        "",
        f"One request of the sweep (episode `{ctx.episode.qid}`, query "
        f"\"{ctx.episode.query}\", knob {diversity:g}), exactly as sent "
        "(vectors and id lists shortened here):",
        "",
        "```json",
        _abridged(body),
        "```",
        "",
        f"- to the evaluated index `{serving}` (`index.mapping.exclude_source_vectors: false`, "
        f"as `divrank index` writes it): {_summary(on_serving)}",
        f"- to its twin `{strategy.index}` (server default, vectors out of `_source`; same "
        f"documents): {_summary(on_twin)}",
        "",
        "The same request finds the documents (`hits.total`) on both, but returns no hits "
        "from the index that keeps vectors in `_source`: the retriever then reads no vector "
        "for any hit, and its MMR keeps nothing. The sweep's `es-diversify` therefore runs "
        "on the twin.",
    ]
