"""OpenSearch's native MMR (``ext.mmr``, 3.3+) as an outside reference on our candidates.

It only works on a top-level ``knn`` query, so the episode's own candidates are pinned with an
``ids`` filter and ``k`` = their number: the engine then re-ranks exactly the same window we
re-rank, with relevance = cosine to the episode's query vector (the query embedding, or the
user's profile vector). Its latency is a full search round trip; the report shows it beside
the same k-NN request without ``ext.mmr`` so the MMR share can be read off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluation.strategies import IntArray, RerankContext

__all__ = ["FACTORIES", "OpenSearchMMR", "OpenSearchUnavailable", "check_mmr_enabled"]

FACTORIES = ("mmr_over_sample_factory", "mmr_rerank_factory")
SETTING = "cluster.search.enabled_system_generated_factories"


class OpenSearchUnavailable(RuntimeError):
    """The engine cannot run its MMR (setting off, or version without ``ext.mmr``)."""


def check_mmr_enabled(client: Any) -> None:
    """Raise with the exact setting to change when the MMR factories are not enabled."""
    settings = client.cluster.get_settings(include_defaults=True, flat_settings=True)
    value: Any = None
    for scope in ("transient", "persistent", "defaults"):
        if SETTING in settings.get(scope, {}):
            value = settings[scope][SETTING]
            break
    enabled = set(value or [])
    if "*" not in enabled and not set(FACTORIES) <= enabled:
        raise OpenSearchUnavailable(
            f"OpenSearch MMR needs {SETTING} to include {', '.join(FACTORIES)} (now {value!r})"
        )


@dataclass(frozen=True)
class OpenSearchMMR:
    client: Any
    index: str
    vector_field: str = "embedding"
    name: str = "opensearch-mmr"
    knob_sensitive: bool = True
    mmr: bool = True  # False: the same pinned k-NN request without ext.mmr (latency peer)

    def body(self, ctx: RerankContext, k: int, diversity: float) -> dict[str, Any]:
        vector = ctx.episode.query_embedding
        if vector is None:
            raise ValueError(f"episode {ctx.episode.qid} has no query vector for a k-NN query")
        ids = list(ctx.candidates.ids)
        knn = {"vector": [float(x) for x in vector], "k": len(ids),
               "filter": {"ids": {"values": ids}}}  # fmt: skip
        body: dict[str, Any] = {
            "size": k,
            "_source": False,
            "query": {"knn": {self.vector_field: knn}},
        }
        if self.mmr:
            body["ext"] = {"mmr": {"diversity": float(diversity), "candidates": len(ids)}}
        return body

    def __call__(self, ctx: RerankContext, k: int, diversity: float) -> IntArray:
        response = self.client.search(index=self.index, body=self.body(ctx, k, diversity))
        position = {item: i for i, item in enumerate(ctx.candidates.ids)}
        order = [position[h["_id"]] for h in response["hits"]["hits"] if h["_id"] in position]
        return np.asarray(order, dtype=np.int64)
