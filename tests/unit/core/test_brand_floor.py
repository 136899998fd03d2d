"""The brand floor: a page that knows the shopper shows at least the engine page's brands."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reranker.core import Candidates, Knobs, UserProfile, rerank
from reranker.core.caps import HomogeneityConstraints
from reranker.core.registry import STRATEGY_REGISTRY
from reranker.core.request import engine_brands, prepare
from reranker.core.weights import DEFAULT_WEIGHTS

# engine order: five brands on the first five hits, then a tail of brand 0 and one far hit
BRANDS = [0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 1]


def _shop() -> Candidates:
    n = len(BRANDS)
    # near ties on top (relevance 1 to 0.98 after min-max): the brand affinity decides
    scores = np.append(np.linspace(10.0, 9.8, n - 1), 0.0).astype(np.float32)
    return Candidates(
        ids=[f"i{j}" for j in range(n)],
        scores=scores,
        brands=np.array(BRANDS, dtype=np.int32),
        brand_names=["b0", "b1", "b2", "b3", "b4"],
    )


def _fan_of_b0() -> UserProfile:
    return UserProfile(
        interests=np.zeros((0, 4), dtype=np.float32),
        interest_weights=np.zeros(0, dtype=np.float32),
        brand_affinity={"b0": 1.0},
    )


def _brands(c: Candidates, order: list[int]) -> set[int]:
    assert c.brands is not None
    return {int(c.brands[j]) for j in order}


def test_without_the_floor_brand_affinity_collapses_the_page() -> None:
    c = _shop()
    request = prepare(c, 5, Knobs(strategy="personalized", diversity=0.0), _fan_of_b0())
    assert request.brand_floor == 5
    page = STRATEGY_REGISTRY["personalized"](replace(request, brand_floor=0), DEFAULT_WEIGHTS)
    assert _brands(c, page.order.tolist()) == {0}


def test_personalised_page_keeps_the_engine_pages_brands() -> None:
    c = _shop()
    for strategy in ("personalized", "fusion"):
        page = rerank(c, 5, Knobs(strategy=strategy, diversity=0.0), _fan_of_b0())
        order = page.order.tolist()
        assert len(_brands(c, order)) >= 5, (strategy, order)


def test_floor_binds_only_at_the_end_so_affinity_still_leads() -> None:
    # ten slots, five brands to show: the first five picks are free, the fan's brand first
    c = _shop()
    order = rerank(c, 10, Knobs(strategy="personalized", diversity=0.0), _fan_of_b0()).order
    assert c.brands is not None
    assert c.brands[order[:5]].tolist() == [0, 0, 0, 0, 0]
    assert len(_brands(c, order.tolist())) == 5


def test_no_floor_without_a_user_or_when_the_query_names_a_brand() -> None:
    c = _shop()
    assert prepare(c, 5, Knobs(diversity=0.0)).brand_floor == 0
    named = Knobs(diversity=0.0, query_brands=frozenset({"b0"}))
    assert prepare(c, 5, named, _fan_of_b0()).brand_floor == 0


def test_engine_brands_counts_known_brands_of_the_engine_page() -> None:
    c = replace(_shop(), brands=np.array([-1, 1, 1, 3, 4, 0, 0, 0, 0, 0, 0, 0, 1], dtype=np.int32))
    assert engine_brands(c, 5, frozenset()) == 3  # unknown is no brand


def test_deeper_pages_are_free_of_the_floor() -> None:
    # page 1 of five must show five brands; page 2 goes back to the fan's brand
    c = _shop()
    knobs = Knobs(strategy="personalized", diversity=0.0, page_size=5)
    order = rerank(c, 10, knobs, _fan_of_b0()).order
    assert c.brands is not None
    assert len(set(c.brands[order[:5]].tolist())) == 5
    assert c.brands[order[5:]].tolist() == [0, 0, 0, 0, 0]
    # page 1 is the same whether or not page 2 is asked for
    assert order[:5].tolist() == rerank(c, 5, knobs, _fan_of_b0()).order.tolist()


def test_explanation_names_the_floor() -> None:
    c = _shop()
    knobs = Knobs(strategy="personalized", diversity=0.0, explain=True)
    ranking = rerank(c, 5, knobs, _fan_of_b0())
    assert ranking.explanations is not None
    held = [e["held_back"] for e in ranking.explanations if e["held_back"] is not None]
    assert held and all(h["reasons"] == ["brand_floor"] for h in held)


def test_constraints_hold_and_release_unselected_candidates() -> None:
    brands = np.array([0, 0, 1, 2, 0], dtype=np.int32)
    cons = HomogeneityConstraints(5, 3, brands=brands, n_brands=3, brand_floor=3, floor_span=3)
    cons.select(0)  # brand 0; need 2 more brands with 2 picks left: hold
    assert cons.penalty.tolist()[1:] == [-300.0, 0.0, 0.0, -300.0]
    assert cons.violations(1, None) == ["brand_floor"]
    cons.select(2)  # brand 1 joins the held ones (none left of it)
    cons.select(3)  # page full: released
    assert cons.penalty[1] == 0.0 and cons.penalty[4] == 0.0
    assert cons.violations(1, None) == []
