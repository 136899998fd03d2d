"""The entry point: dispatch, engine order at diversity 0, NaN, knob continuity, explanations."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from reranker.core import (
    DEFAULT_WEIGHTS,
    FEATURE_NAMES,
    STRATEGIES,
    STRATEGY_REGISTRY,
    Candidates,
    Knobs,
    UserProfile,
    rerank,
    rollout_features,
)

DIVERSIFIERS = ("personalized", "mmr", "dpp", "fusion")
Make = Callable[..., Candidates]
MakeUser = Callable[..., UserProfile]


def test_registry_covers_the_declared_strategies() -> None:
    assert tuple(STRATEGY_REGISTRY) == STRATEGIES


def test_unknown_strategy_names_the_valid_ones(make_candidates: Make) -> None:
    with pytest.raises(ValueError, match="engine, personalized, mmr, dpp, fusion"):
        rerank(make_candidates(20), 5, Knobs(strategy="xgboost"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"diversity": 1.5}, "knobs.diversity"),
        ({"diversity": float("nan")}, "knobs.diversity"),
        ({"max_per_brand": 0}, "knobs.max_per_brand"),
        ({"dpp_window": -1}, "knobs.dpp_window"),
        ({"duplicate_threshold": 0.0}, "knobs.duplicate_threshold"),
    ],
)
def test_bad_knobs_are_named(make_candidates: Make, change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rerank(make_candidates(20), 5, Knobs(**change))


def test_bad_shapes_are_named(make_candidates: Make, make_user: MakeUser) -> None:
    c = make_candidates(20)
    with pytest.raises(ValueError, match=r"candidates.scores"):
        rerank(dataclasses.replace(c, scores=c.scores[:5]), 5, Knobs())
    with pytest.raises(ValueError, match=r"candidates.brands"):
        rerank(dataclasses.replace(c, brands=c.brands + 50), 5, Knobs())  # type: ignore[operator]
    with pytest.raises(ValueError, match=r"^k must"):
        rerank(c, 0, Knobs())
    user = make_user(c)
    bad = dataclasses.replace(user, interests=user.interests[:, :10])
    with pytest.raises(ValueError, match=r"user.interests"):
        rerank(c, 5, Knobs(), user=bad)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_diversity_zero_without_user_is_engine_order(make_candidates: Make, strategy: str) -> None:
    c = make_candidates(100)
    scores = c.scores.copy()
    scores[10:14] = scores[10]  # ties keep engine order
    c = dataclasses.replace(c, scores=scores)
    for k in (10, 50, 100):
        order = rerank(c, k, Knobs(diversity=0.0, strategy=strategy)).order
        assert order.tolist() == list(range(k))


@pytest.mark.parametrize("strategy", DIVERSIFIERS)
def test_missing_score_never_jumps_to_the_top(make_candidates: Make, strategy: str) -> None:
    c = make_candidates(50)
    scores = c.scores.copy()
    scores[0] = np.nan
    scores[3] = np.nan
    c = dataclasses.replace(c, scores=scores)
    for diversity in (0.0, 0.5, 1.0):
        order = rerank(c, 10, Knobs(diversity=diversity, strategy=strategy)).order.tolist()
        assert order[0] not in (0, 3)
        if diversity == 0.0:
            assert 0 not in order and 3 not in order


def _overlap(a: np.ndarray, b: np.ndarray) -> int:
    return len(set(a.tolist()) & set(b.tolist()))


@pytest.mark.parametrize("strategy", ("mmr", "dpp", "fusion"))
def test_knob_is_continuous_and_relevance_counts_at_one(
    make_candidates: Make, strategy: str
) -> None:
    c = make_candidates(100)
    page = {d: rerank(c, 10, Knobs(diversity=d, strategy=strategy)).order for d in (0, 0.01, 1)}
    assert _overlap(page[0], page[0.01]) >= 9
    assert page[0][0] == page[1][0] == 0  # the most relevant item still leads
    assert _overlap(page[0], page[1]) < 10  # and diversity changes the page
    flipped = dataclasses.replace(c, scores=c.scores[::-1].copy())
    flipped_page = rerank(flipped, 10, Knobs(diversity=1.0, strategy=strategy)).order
    assert flipped_page.tolist() != page[1].tolist()


@pytest.mark.parametrize("strategy", ("mmr", "dpp", "fusion"))
def test_diversity_spreads_the_page(make_candidates: Make, strategy: str) -> None:
    c = make_candidates(100)
    assert c.categories is not None
    engine = len(set(c.categories[:10].tolist()))
    diverse = rerank(c, 10, Knobs(diversity=1.0, strategy=strategy)).order
    assert len(set(c.categories[diverse].tolist())) > engine


@pytest.mark.parametrize("strategy", DIVERSIFIERS)
def test_without_embeddings_label_similarity_is_used(make_candidates: Make, strategy: str) -> None:
    c = dataclasses.replace(make_candidates(60), embeddings=None)
    assert c.brands is not None and c.categories is not None
    ranking = rerank(c, 10, Knobs(diversity=1.0, strategy=strategy))
    assert len(set(ranking.order.tolist())) == 10
    if strategy != "personalized":
        page = ranking.order
        pairs = set(zip(c.brands[page].tolist(), c.categories[page].tolist(), strict=True))
        engine = set(zip(c.brands[:10].tolist(), c.categories[:10].tolist(), strict=True))
        assert len(pairs) >= len(engine)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("diversity", [0.0, 0.4, 1.0])
def test_explanations_add_up(
    make_candidates: Make, make_user: MakeUser, strategy: str, diversity: float
) -> None:
    c = make_candidates(80)
    ranking = rerank(
        c, 10, Knobs(diversity=diversity, strategy=strategy, explain=True), user=make_user(c)
    )
    assert ranking.explanations is not None and len(ranking.explanations) == 10
    for t, item in enumerate(ranking.explanations):
        assert item["id"] == c.ids[ranking.order[t]] and item["rank"] == t
        assert item["score"] == pytest.approx(float(ranking.scores[t]), abs=1e-6)
        assert sum(item["contributions"].values()) == pytest.approx(item["score"], abs=2e-5)


def test_explain_does_not_change_the_page(make_candidates: Make, make_user: MakeUser) -> None:
    c = make_candidates(80)
    user = make_user(c)
    for strategy in STRATEGIES:
        plain = rerank(c, 10, Knobs(diversity=0.7, strategy=strategy), user=user)
        explained = rerank(c, 10, Knobs(diversity=0.7, strategy=strategy, explain=True), user=user)
        assert plain.order.tolist() == explained.order.tolist()
        np.testing.assert_allclose(plain.scores, explained.scores, atol=1e-5)


def test_user_personalises_and_calibrates(make_candidates: Make, make_user: MakeUser) -> None:
    c = make_candidates(100)
    user = make_user(c)
    ranking = rerank(c, 10, Knobs(diversity=0.5, strategy="fusion", explain=True), user=user)
    assert ranking.explanations is not None
    features = [item["features"] for item in ranking.explanations]
    assert any(f["interest_sim"] > 0.3 for f in features)
    assert any(f["calibration"] != 0.0 for f in features)
    assert ranking.order.tolist() != rerank(c, 10, Knobs(diversity=0.5)).order.tolist()


def test_rollout_features_match_what_fusion_saw(make_candidates: Make, make_user: MakeUser) -> None:
    c = make_candidates(60)
    user = make_user(c)
    knobs = Knobs(diversity=0.6, strategy="fusion", explain=True)
    ranking = rerank(c, 8, knobs, user=user)
    rollout = rollout_features(c, ranking.order.tolist(), knobs, user)
    assert rollout.features.shape == (8, 60, len(FEATURE_NAMES))
    assert ranking.explanations is not None
    for t, j in enumerate(ranking.order.tolist()):
        seen = [ranking.explanations[t]["features"][name] for name in FEATURE_NAMES]
        np.testing.assert_allclose(rollout.features[t, j], seen, atol=1e-5)
        assert rollout.available[t, j] and not rollout.available[t, ranking.order[:t]].any()
        # the greedy pick is the argmax of the fused score among available candidates
        fused = rollout.features[t] @ DEFAULT_WEIGHTS.effective(0.6)
        fused[~rollout.available[t]] = -np.inf
        assert int(np.argmax(fused)) == j or ranking.explanations[t]["held_back"] is not None


def test_k_larger_than_window_and_empty_window(make_candidates: Make) -> None:
    c = make_candidates(7)
    assert len(rerank(c, 10, Knobs(strategy="fusion")).order) == 7
    empty = Candidates([], np.zeros(0, np.float32))
    assert rerank(empty, 10, Knobs(strategy="mmr")).order.tolist() == []
