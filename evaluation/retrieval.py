"""Candidate generation against the real engine, for building episodes (offline only).

BM25 on text fields, k-NN on the item vectors (lucene HNSW), and a hybrid that fuses the two
top-``depth`` lists by reciprocal rank (Cormack et al. 2009) on the client: the engine has no
neural-search plugin, and RRF needs no score normalisation. Queries go out in ``_msearch``
batches; an item id the caller wants excluded (a user's history) is filtered in the engine.

OpenSearch and Elasticsearch differ only in the k-NN request (a ``knn`` query clause vs the
top-level ``knn`` section); the engine is read off the client (``indexer.engine_dialect``), so
the BM25 body, the batching and the fusion are one code path for both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.engine_dialect import EngineName, dialect_of

__all__ = ["Hit", "QuerySpec", "Retriever", "rrf"]

Hit = tuple[str, float]  # (item id, score), best first
RRF_K = 60


@dataclass(frozen=True)
class QuerySpec:
    """One request to the engine: a text query on ``fields`` and/or a vector, minus ``exclude``."""

    text: str | None = None
    vector: npt.NDArray[np.float32] | None = None
    exclude: tuple[str, ...] = ()


def rrf(lists: Sequence[Sequence[Hit]], depth: int, k: int = RRF_K) -> list[Hit]:
    """Reciprocal-rank fusion: score(d) = sum over lists of 1 / (k + rank); ties by id."""
    scores: dict[str, float] = {}
    for hits in lists:
        for rank, (doc, _) in enumerate(hits, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    fused = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return fused[:depth]


class Retriever:
    """Runs BM25 / k-NN / hybrid searches for many requests in ``_msearch`` batches."""

    def __init__(
        self,
        client: Any,
        index: str,
        text_fields: Sequence[str] = ("title",),
        vector_field: str = "embedding",
        batch: int = 32,
        engine: EngineName | None = None,
    ) -> None:
        self.client = client
        self.engine: EngineName = engine or dialect_of(client).name
        self.index = index
        self.text_fields = list(text_fields)
        self.vector_field = vector_field
        self.batch = batch

    def bm25_body(self, spec: QuerySpec, depth: int) -> dict[str, Any]:
        if not spec.text:
            raise ValueError("a BM25 search needs query text")
        match: dict[str, Any] = {"multi_match": {"query": spec.text, "fields": self.text_fields}}
        query: dict[str, Any] = match
        if spec.exclude:
            query = {
                "bool": {"must": [match], "must_not": [{"ids": {"values": list(spec.exclude)}}]}
            }
        return {"size": depth, "_source": False, "query": query}

    def knn_body(self, spec: QuerySpec, depth: int) -> dict[str, Any]:
        if spec.vector is None:
            raise ValueError("a k-NN search needs a query vector")
        vector = [float(x) for x in spec.vector]
        exclude = {"bool": {"must_not": [{"ids": {"values": list(spec.exclude)}}]}}
        if self.engine == "elasticsearch":
            # num_candidates = k: the same HNSW beam as OpenSearch's lucene k-NN at k = 100
            # (its ef_search defaults to 100 and is raised to k).
            section: dict[str, Any] = {"field": self.vector_field, "query_vector": vector,
                                       "k": depth, "num_candidates": max(depth, 100)}  # fmt: skip
            if spec.exclude:
                section["filter"] = exclude
            return {"size": depth, "_source": False, "knn": section}
        knn: dict[str, Any] = {"vector": vector, "k": depth}
        if spec.exclude:
            knn["filter"] = exclude
        return {"size": depth, "_source": False, "query": {"knn": {self.vector_field: knn}}}

    def search(self, kind: str, specs: Sequence[QuerySpec], depth: int) -> list[list[Hit]]:
        """``kind`` in bm25 / knn / hybrid; one hit list per spec, in order."""
        if kind == "hybrid":
            lexical = self.search("bm25", specs, depth)
            dense = self.search("knn", specs, depth)
            return [rrf([a, b], depth) for a, b in zip(lexical, dense, strict=True)]
        build = {"bm25": self.bm25_body, "knn": self.knn_body}.get(kind)
        if build is None:
            raise ValueError(f"unknown retrieval {kind!r}; use bm25, knn or hybrid")
        out: list[list[Hit]] = []
        for start in range(0, len(specs), self.batch):
            chunk = specs[start : start + self.batch]
            out.extend(self._msearch([build(spec, depth) for spec in chunk]))
        return out

    def _msearch(self, bodies: Iterable[dict[str, Any]]) -> list[list[Hit]]:
        lines: list[dict[str, Any]] = []
        for body in bodies:
            lines += [{"index": self.index}, body]
        response = self.client.msearch(body=lines)
        results = []
        for n, item in enumerate(response["responses"]):
            if "error" in item:
                raise RuntimeError(f"engine search {n} of a batch failed: {item['error']}")
            results.append([(h["_id"], float(h["_score"])) for h in item["hits"]["hits"]])
        return results
