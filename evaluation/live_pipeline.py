"""The real search pipeline as a strategy: each episode's query sent through OpenSearch with
the divrank plugin and a running sidecar, the page read back.

Everything else in the report replays cached windows through the core in process; this row
shows the same gain end to end (plugin field plumbing, the query text the plugin extracts,
titles from ``_source``, the sidecar's relevance model and weights). The engine answers the
same BM25 (or k-NN) request the episode was built from, so the window is the episode's; a page
item outside it (the index changed since) is dropped and counted. With ``history_ids`` (a
replayed log) each request also carries the user's history before the cut as
``ext.divrank.history.item_ids`` (its newest 500), so the sidecar personalises from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evaluation.report import PIPELINE_ROW
from evaluation.retrieval import QuerySpec, Retriever
from evaluation.strategies import IntArray, RerankContext

__all__ = ["MAX_HISTORY_IDS", "LivePipeline", "PipelineNotApplied"]

MAX_HISTORY_IDS = 500  # what the plugin and the sidecar accept


class PipelineNotApplied(RuntimeError):
    """The pipeline answered but did not re-rank (it failed open): the row would be a lie."""


@dataclass
class LivePipeline:
    client: Any
    index: str
    pipeline: str
    retriever: Retriever
    retrieval: str = "bm25"
    strategy: str = "fusion"
    name: str = PIPELINE_ROW
    knob_sensitive: bool = True
    history_ids: Sequence[str] | None = None  # item-table ids, to send each user's history
    outside_window: int = field(default=0, init=False)  # page items not in the episode's window

    def body(self, ctx: RerankContext, k: int, diversity: float) -> dict[str, Any]:
        episode = ctx.episode
        depth = len(ctx.candidates)  # the episode's window: k-NN's k must be as deep
        if self.retrieval == "bm25":
            body = self.retriever.bm25_body(QuerySpec(text=episode.query), depth)
        elif self.retrieval == "knn":
            if episode.query_embedding is None:
                raise ValueError(f"episode {episode.qid} has no query vector for a k-NN query")
            body = self.retriever.knn_body(QuerySpec(vector=episode.query_embedding), depth)
        else:
            raise ValueError(f"the live pipeline row runs bm25 or knn, not {self.retrieval!r}")
        body["size"] = k  # the retriever's bodies already leave _source out
        ext: dict[str, Any] = {"diversity": float(diversity), "strategy": self.strategy}
        if self.history_ids is not None and episode.history.size:
            rows = episode.history[-MAX_HISTORY_IDS:]
            ext["history"] = {"item_ids": [str(self.history_ids[r]) for r in rows]}
        body["ext"] = {"divrank": ext}
        return body

    def __call__(self, ctx: RerankContext, k: int, diversity: float) -> IntArray:
        response = self.client.search(index=self.index, body=self.body(ctx, k, diversity),
                                      params={"search_pipeline": self.pipeline})  # fmt: skip
        info = (response.get("ext") or {}).get("divrank") or {}
        if not info.get("applied"):
            raise PipelineNotApplied(
                f"pipeline {self.pipeline!r} did not re-rank episode {ctx.episode.qid}: "
                f"{info.get('reason') or info or 'no ext.divrank in the response'}"
            )
        position = {item: i for i, item in enumerate(ctx.candidates.ids)}
        hits = [h["_id"] for h in response["hits"]["hits"]]
        self.outside_window += sum(1 for h in hits if h not in position)
        return np.asarray([position[h] for h in hits if h in position], dtype=np.int64)
