"""Caps and near-duplicate suppression during selection, relaxed in the stated order."""

from __future__ import annotations

import numpy as np

from reranker.core import Candidates, Knobs, rerank
from reranker.core.caps import TIER_BRAND, TIER_CATEGORY, HomogeneityConstraints


def _labelled(brands: list[int], categories: list[int] | None = None) -> Candidates:
    n = len(brands)
    return Candidates(
        ids=[f"i{j}" for j in range(n)],
        scores=np.linspace(10.0, 1.0, n, dtype=np.float32),
        categories=None if categories is None else np.array(categories, dtype=np.int32),
        brands=np.array(brands, dtype=np.int32),
        category_names=["c0", "c1", "c2"],
        brand_names=["b0", "b1", "b2", "b3", "b4"],
    )


def _page(c: Candidates, k: int, **knobs: object) -> list[int]:
    return rerank(c, k, Knobs(strategy="personalized", diversity=0.0, **knobs)).order.tolist()  # type: ignore[arg-type]


def test_brand_cap_applies_during_selection() -> None:
    c = _labelled([0, 0, 0, 1, 1, 2])
    assert _page(c, 4, max_per_brand=2) == [0, 1, 3, 4]
    assert _page(c, 5, max_per_brand=2) == [0, 1, 3, 4, 5]


def test_cap_relaxed_rather_than_short_page_and_explained() -> None:
    c = _labelled([0, 0, 0, 1, 1, 2])
    ranking = rerank(
        c, 6, Knobs(strategy="personalized", diversity=0.0, max_per_brand=2, explain=True)
    )
    assert ranking.order.tolist() == [0, 1, 3, 4, 5, 2]
    assert ranking.explanations is not None
    assert ranking.explanations[5]["relaxed"] == ["brand_cap"]
    held = ranking.explanations[2]["held_back"]
    assert held is not None and held["id"] == "i2" and held["reasons"] == ["brand_cap"]
    assert ranking.explanations[0]["relaxed"] == [] and ranking.explanations[0]["held_back"] is None


def test_relaxation_order_category_before_brand() -> None:
    # after 0 (b0, c0): item 1 breaks the brand cap (b0), item 2 the category cap (c0).
    # Item 1 scores higher, but the category cap is relaxed first.
    c = _labelled([0, 0, 1], [0, 1, 0])
    assert _page(c, 2, max_per_brand=1, max_per_category=1) == [0, 2]


def test_query_brand_is_exempt_from_caps() -> None:
    c = _labelled([0, 0, 0, 1, 1, 2])
    assert _page(c, 4, max_per_brand=2, query_brands=frozenset({"B0"})) == [0, 1, 2, 3]


def test_unknown_brand_is_never_capped() -> None:
    c = _labelled([-1, -1, -1, 1])
    assert _page(c, 3, max_per_brand=1) == [0, 1, 2]


def test_near_duplicates_suppressed_then_relaxed_last() -> None:
    # items 0 and 1 are the same vector; 2 and 3 differ from everything
    emb = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    c = Candidates(["a", "b", "c", "d"], np.array([4, 3, 2, 1], np.float32), emb)
    for strategy in ("personalized", "mmr", "dpp", "fusion"):
        ranking = rerank(c, 4, Knobs(strategy=strategy, diversity=0.3, explain=True))
        assert ranking.order.tolist() == [0, 2, 3, 1], strategy
        assert ranking.explanations is not None
        assert "near_duplicate" in ranking.explanations[3]["relaxed"], strategy


def test_derived_caps_only_from_half_diversity() -> None:
    brands = [0] * 8 + [1, 2, 3, 4]
    c = _labelled(brands)
    low = rerank(c, 10, Knobs(strategy="personalized", diversity=0.4)).order
    high = rerank(c, 10, Knobs(strategy="personalized", diversity=1.0)).order
    assert np.sum(np.array(brands)[low] == 0) == 8
    assert np.sum(np.array(brands)[high] == 0) == 6  # k=10: cap 3 + relaxed to fill


def test_label_pick_counts_and_adds_a_tier_at_the_cap() -> None:
    """The one cap rule (MMR and DPP call it per pick, the fusion's compiled step inline)."""
    cons = HomogeneityConstraints(
        6,
        6,
        brands=np.array([0, 0, 0, 1, -1, 2], dtype=np.int32),
        categories=np.array([0, 1, 1, 1, 1, -1], dtype=np.int32),
        n_brands=3,
        n_categories=2,
        brand_cap=2,
        category_cap=2,
        exempt_brands=(2,),
    )
    assert not cons.select(0)
    assert cons.penalty.tolist() == [-np.inf, 0, 0, 0, 0, 0]
    assert cons.select(1)  # brand 0 reaches its cap of 2: its last item is penalised
    assert cons.penalty[2] == -TIER_BRAND
    assert cons.violations(2, None) == ["brand_cap"]
    assert cons.select(3) and cons.penalty[4] == -TIER_CATEGORY  # category 1: 2 items
    assert cons.violations(4, None) == ["category_cap"]
    assert not cons.select(5)  # an exempt brand and an unknown category are never counted
    assert cons.counts[cons.brand_free] == 0 and cons.counts[cons.category_free] == 0
