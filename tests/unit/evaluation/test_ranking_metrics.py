"""Ranking metrics (ranx underneath) and the shallow-judgment extras, by hand."""

from __future__ import annotations

import math

import pytest

from evaluation.metrics import judged_at_k, ranking_metrics


def _dcg(gains: list[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def test_graded_page_with_an_unjudged_item() -> None:
    judgments = {"q": {"a": 2, "b": 1, "c": 0}}
    pages = {"q": ["c", "a", "z", "b"]}  # z is unjudged
    got = ranking_metrics(judgments, pages)
    ideal = _dcg([2, 1])
    assert got["ndcg@10"][0] == pytest.approx(_dcg([0, 2, 0, 1]) / ideal)
    assert got["recall@10"][0] == pytest.approx(1.0)
    assert got["mrr@10"][0] == pytest.approx(0.5)
    assert got["judged@10"][0] == pytest.approx(0.75)
    # condensed: z removed, so b moves up to rank 3
    assert got["ndcg_judged@10"][0] == pytest.approx(_dcg([0, 2, 1]) / ideal)


def test_cut_at_k_and_order_of_requests_kept() -> None:
    judgments = {"q2": {"x": 1, "y": 1}, "q1": {"a": 1}}
    pages = {"q2": ["n1", "n2", "x"], "q1": ["a"]}
    got = ranking_metrics(judgments, pages, k=2)
    assert list(got["recall@2"]) == [0.0, 1.0]
    assert got["mrr@2"][1] == 1.0
    assert got["ndcg_judged@2"][0] == 0.0  # nothing judged in the top 2


def test_bad_input_named() -> None:
    with pytest.raises(ValueError, match="no judgments"):
        ranking_metrics({}, {"q": ["a"]})
    with pytest.raises(ValueError, match="no relevant item"):
        ranking_metrics({"q": {"a": 0}}, {"q": ["a"]})
    with pytest.raises(ValueError, match="empty"):
        ranking_metrics({"q": {"a": 1}}, {"q": []})


def test_judged_at_k_counts_zero_gain_judgments() -> None:
    assert judged_at_k(["a", "b", "c", "d"], {"a": 0, "d": 3}, k=3) == pytest.approx(1 / 3)
