"""The training objective and loop on tiny synthetic lists (torch, CPU, seconds)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from evaluation.episodes import Episode, ItemTable
from evaluation.results import SweepPoint
from evaluation.strategies import RerankContext, minmax
from evaluation.sweep import build_contexts
from reranker.core.features import FEATURE_NAMES
from reranker.core.types import Candidates
from training import LossConfig, TrainConfig, floor_objective, fusion_loss, train

COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _one_step(x: np.ndarray, target: list[float], d: float) -> tuple[torch.Tensor, ...]:
    n = x.shape[0]
    return (
        torch.tensor(x[None, None], dtype=torch.float32),
        torch.ones((1, 1, n), dtype=torch.bool),
        torch.tensor([target], dtype=torch.float32),
        torch.ones((1, n), dtype=torch.bool),
        torch.tensor([d], dtype=torch.float32),
    )


def test_relevance_loss_is_listnet_cross_entropy() -> None:
    x = np.zeros((2, len(FEATURE_NAMES)), dtype=np.float32)
    x[:, COL["relevance"]] = [1.0, 0.0]
    values = torch.zeros(len(FEATURE_NAMES))
    values[COL["relevance"]] = 1.0
    parts = fusion_loss(values, torch.zeros_like(values), *_one_step(x, [1.0, 0.0], 0.0),
                        LossConfig(l2=0.0))  # fmt: skip
    # softmax([1, 0]) puts e/(e+1) on the relevant item: CE = -log(e/(e+1))
    assert float(parts.rel) == pytest.approx(-np.log(np.e / (np.e + 1)), rel=1e-5)
    assert float(parts.hom) == 0.0  # d = 0: no homogeneity term


def test_homogeneity_gradient_pushes_redundancy_weight_down() -> None:
    x = np.zeros((2, len(FEATURE_NAMES)), dtype=np.float32)
    x[:, COL["redundancy"]] = [0.9, 0.1]
    values = torch.zeros(len(FEATURE_NAMES), requires_grad=True)
    slope = torch.zeros(len(FEATURE_NAMES), requires_grad=True)
    cfg = LossConfig(lam=1.0, mu=0.0, l2=0.0)
    parts = fusion_loss(values, slope, *_one_step(x, [0.0, 0.0], 1.0), cfg)
    parts.total.backward()
    assert slope.grad is not None
    assert float(slope.grad[COL["redundancy"]]) > 0  # descent lowers the weight


def _context(rng: np.random.Generator, qid: str) -> RerankContext:
    n = 30
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    scores = np.sort(rng.random(n).astype(np.float32))[::-1].copy()
    ids = [f"{qid}-{i}" for i in range(n)]
    relevant = {ids[i]: 1 for i in rng.choice(n, 4, replace=False)}
    ep = Episode(qid, "q", "", "train", np.arange(n, dtype=np.int32), scores, None, relevant,
                 np.zeros(0, np.int32))  # fmt: skip
    cats = rng.integers(0, 4, n).astype(np.int32)
    brands = rng.integers(0, 6, n).astype(np.int32)
    cands = Candidates(ids, scores, emb, cats, brands, list("abcd"), list("ABCDEF"))
    return RerankContext(ep, cands, None, minmax(scores))


def test_training_runs_and_returns_named_weights() -> None:
    rng = np.random.default_rng(0)
    lists = [_context(rng, f"q{i}") for i in range(24)]
    cfg = TrainConfig(epochs=2, batch=8, seed=0)
    result = train(lists[:16], lists[16:], shallow=False, cfg=cfg)
    assert result.weights.names == FEATURE_NAMES
    assert len(result.history) == 2
    assert np.isfinite(result.history[-1]["valid/total"])
    again = train(lists[:16], lists[16:], shallow=False, cfg=cfg)
    np.testing.assert_array_equal(again.weights.values, result.weights.values)  # seeded


def test_floor_objective_prefers_feasible_relevance() -> None:
    def p(d: float, ndcg: float, ild: float, cov: float) -> SweepPoint:
        m = {"ndcg@10": ndcg, "ild@10": ild, "brand_cov@10": cov, "cat_cov@10": cov}
        return SweepPoint("learned", d, m, 0.0, 0.0, 1)

    points = [p(0.0, 0.6, 0.4, 2.0), p(0.5, 0.58, 0.55, 3.0), p(1.0, 0.5, 0.7, 4.0)]
    assert floor_objective(points, 0.30, 0.40) == pytest.approx(0.58)
    # nothing feasible: best NDCG minus the missing diversity, below any feasible value
    assert floor_objective(points[:1], 0.30, 0.40) < 0.6


def test_step_features_stay_pinned_to_zero_at_diversity_zero() -> None:
    """The knob alone scales the diversity terms: training must not move them at d = 0."""
    from reranker.core.features import STEP_FEATURES

    rng = np.random.default_rng(1)
    lists = [_context(rng, f"q{i}") for i in range(20)]
    cfg = TrainConfig(epochs=2, batch=8, seed=0, lr=0.05)
    result = train(lists[:14], lists[14:], shallow=False, cfg=cfg)
    at0 = result.weights.effective(0.0)
    for name in STEP_FEATURES:
        assert at0[COL[name]] == 0.0


def test_selection_by_validation_score_never_returns_worse_than_the_start() -> None:
    from reranker.core.weights import DEFAULT_WEIGHTS

    rng = np.random.default_rng(2)
    lists = [_context(rng, f"q{i}") for i in range(20)]
    start = DEFAULT_WEIGHTS.effective(1.0)

    def score(weights: object) -> float:  # prefers the initial weights over any change
        return -float(np.abs(weights.effective(1.0) - start).sum())  # type: ignore[attr-defined]

    cfg = TrainConfig(epochs=2, batch=8, seed=0, lr=0.05)
    result = train(lists[:14], lists[14:], shallow=False, cfg=cfg, select=score)
    assert result.best_epoch == -1
    np.testing.assert_allclose(result.weights.effective(1.0), start, atol=1e-6)
    assert result.start_score == result.best_score == pytest.approx(0.0, abs=1e-5)
    assert all(row["valid/score"] < 0 for row in result.history)  # every epoch moved away


def test_frontier_score_rewards_beating_the_baseline() -> None:
    from training import frontier_score, target_score

    def p(name: str, d: float, ndcg: float, ild: float, cov: float) -> SweepPoint:
        m = {"ndcg@10": ndcg, "ild@10": ild, "brand_cov@10": cov, "cat_cov@10": cov}
        return SweepPoint(name, d, m, 0.0, 0.0, 1)

    ref = p("ours", 0.0, 0.4, 0.4, 4.0)
    ours = [ref, p("ours", 1.0, 0.3, 0.8, 8.0)]
    base = [p("mmr", 0.5, 0.35, 0.5, 5.0)]
    # at NDCG 0.35 our curve interpolates to ILD 0.6 and coverage 6: margins 0.1/0.4 and 1/4
    assert frontier_score(ours, base, ref) == pytest.approx(0.25 + 0.5 * 0.25 * 2, rel=1e-6)
    worse = [p("mmr", 0.5, 0.35, 0.7, 6.0)]  # ILD shortfall 0.1/0.4, penalised 4x on top
    assert frontier_score(ours, worse, ref) == pytest.approx(-0.25 - 4 * 0.25, rel=1e-6)
    assert target_score(ours, ref) == 0.0  # the only point keeping 97% NDCG adds nothing


def test_direct_tuning_parameters_keep_the_engine_order_at_zero() -> None:
    from reranker.core.features import STEP_FEATURES
    from reranker.core.weights import DEFAULT_WEIGHTS
    from training import weights_from_params

    w = weights_from_params({"similarity_sum": 0.4, "brand_novelty": 0.2, "relevance_at_one": 0.3})
    at0, at1 = w.effective(0.0), w.effective(1.0)
    assert all(at0[COL[name]] == 0.0 for name in STEP_FEATURES)
    assert at1[COL["similarity_sum"]] == pytest.approx(-0.4)
    assert at1[COL["brand_novelty"]] == pytest.approx(0.2)
    assert at1[COL["relevance"]] == pytest.approx(0.3)
    # untouched terms keep the base's weights
    base = DEFAULT_WEIGHTS.effective(1.0)
    assert at1[COL["calibration"]] == pytest.approx(base[COL["calibration"]])


def _validation_set(
    make_table: Callable[..., ItemTable], seed: int
) -> tuple[list[RerankContext], list[Any], ItemTable]:
    """A small catalog (clustered vectors, 4 categories, 6 brands) and 12 episodes on it."""
    rng = np.random.default_rng(seed)
    n_items = 80
    table = make_table(rng, n_items, clusters=5, categories=4, brands=6, id_prefix=f"i{seed}-")
    episodes = []
    for q in range(12):
        rows = rng.choice(n_items, 30, replace=False).astype(np.int32)
        scores = np.sort(rng.random(30).astype(np.float32))[::-1].copy()
        judged = {str(table.ids[r]): int(rng.integers(1, 3)) for r in rows[rng.choice(30, 6)]}
        episodes.append(Episode(f"q{q}", "query", "", "valid", rows, scores, None, judged,
                                np.zeros(0, np.int32)))  # fmt: skip
    lists, metrics = build_contexts(episodes, table, None)
    return lists, metrics, table


def test_direct_tuning_over_several_sources_scores_their_mean(
    make_table: Callable[..., ItemTable],
) -> None:
    from evaluation.strategies import CoreStrategy
    from reranker.core.weights import DEFAULT_WEIGHTS
    from training import frontier_scorer, tune_weights

    sets = [_validation_set(make_table, 1), _validation_set(make_table, 2)]
    baselines = [CoreStrategy("mmr", "mmr"), CoreStrategy("dpp", "dpp")]
    knobs = (0.0, 0.3, 0.7, 1.0)
    result = tune_weights(sets, baselines, trials=4, seed=0, knobs=knobs)
    scorers = [frontier_scorer(lists, m, table, baselines, knobs) for lists, m, table in sets]
    mean = sum(score(result.weights) for score in scorers) / 2
    assert result.best_value == pytest.approx(mean, rel=1e-9)
    # the base weights are the first trial: the result is never worse than them
    assert result.best_value >= sum(s(DEFAULT_WEIGHTS) for s in scorers) / 2 - 1e-12
    again = tune_weights(sets, baselines, trials=4, seed=0, knobs=knobs)
    assert again.best_params == result.best_params  # seeded
    with pytest.raises(ValueError, match="validation lists"):
        tune_weights([], baselines, trials=1, seed=0)


def test_direct_tuning_for_the_targets_scores_the_operating_point(
    make_table: Callable[..., ItemTable],
) -> None:
    from evaluation.strategies import CoreStrategy
    from training import frontier_scorer, tune_weights

    sets = [_validation_set(make_table, 3)]
    knobs = (0.0, 0.1, 0.2, 0.4, 1.0)
    result = tune_weights(sets, [], trials=3, seed=1, knobs=knobs, objective="targets")
    lists, metrics, table = sets[0]
    score = frontier_scorer(lists, metrics, table, [], knobs, "targets")
    assert result.best_value == pytest.approx(score(result.weights), rel=1e-9)
    assert result.best_value >= 0.0  # target_score: 0 when no point keeps 97% NDCG
    with pytest.raises(ValueError, match="objective must be one of frontier, targets"):
        frontier_scorer(lists, metrics, table, [CoreStrategy("mmr", "mmr")], knobs, "area")
