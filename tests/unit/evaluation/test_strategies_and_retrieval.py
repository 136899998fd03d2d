"""Outside references and engine request shapes, without an engine."""

from __future__ import annotations

import numpy as np

from evaluation.retrieval import QuerySpec, Retriever, rrf
from evaluation.strategies import minmax


def test_minmax_handles_nan_and_ties() -> None:
    np.testing.assert_allclose(minmax(np.array([3.0, np.nan, 1.0])), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(minmax(np.array([2.0, 2.0])), [1.0, 1.0])


def test_rrf_by_hand() -> None:
    fused = rrf([[("a", 9.0), ("b", 8.0)], [("b", 0.9), ("c", 0.8)]], depth=3, k=60)
    assert [d for d, _ in fused] == ["b", "a", "c"]
    assert fused[0][1] == 1 / 62 + 1 / 61


def test_query_bodies_exclude_history() -> None:
    r = Retriever(client=None, index="x", text_fields=("title", "description"))
    spec = QuerySpec(text="drama", vector=np.ones(2, np.float32), exclude=("7",))
    bm25 = r.bm25_body(spec, 100)
    assert bm25["query"]["bool"]["must_not"] == [{"ids": {"values": ["7"]}}]
    knn = r.knn_body(spec, 100)["query"]["knn"]["embedding"]
    assert knn["k"] == 100
    assert knn["filter"]["bool"]["must_not"] == [{"ids": {"values": ["7"]}}]
