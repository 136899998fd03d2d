"""The policy-gradient trainer: its reward, its sampler and that it learns (tiny lists, seconds)."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.episodes import Episode
from evaluation.strategies import RerankContext, minmax
from reranker.core import Knobs, rerank
from reranker.core.features import FEATURE_NAMES
from reranker.core.types import Candidates
from reranker.core.weights import DEFAULT_WEIGHTS, FusionWeights
from training import TrainConfig
from training.policy_gradient import PolicyConfig, page_reward, sample_page, train_policy

COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _context(rng: np.random.Generator, qid: str, n: int = 30) -> RerankContext:
    """Engine scores carry no signal; the relevant items are the most popular ones."""
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    scores = np.sort(rng.random(n).astype(np.float32))[::-1].copy()
    ids = [f"{qid}-{i}" for i in range(n)]
    popularity = rng.random(n).astype(np.float32)
    relevant = {ids[i]: 1 for i in np.argsort(-popularity)[:4]}
    ep = Episode(qid, "q", "", "train", np.arange(n, dtype=np.int32), scores, None, relevant,
                 np.zeros(0, np.int32))  # fmt: skip
    brands = rng.integers(0, 6, n).astype(np.int32)
    cands = Candidates(ids, scores, emb, None, brands, [], list("ABCDEF"),
                       popularity=popularity)  # fmt: skip
    return RerankContext(ep, cands, None, minmax(scores))


def _tiny(ids: list[str], judgments: dict[str, int]) -> RerankContext:
    emb = np.eye(len(ids), 4, dtype=np.float32)
    scores = np.linspace(1.0, 0.5, len(ids)).astype(np.float32)
    ep = Episode("q", "q", "", "train", np.arange(len(ids), dtype=np.int32), scores, None,
                 judgments, np.zeros(0, np.int32))  # fmt: skip
    cands = Candidates(ids, scores, emb, None, np.arange(len(ids), dtype=np.int32), [],
                       [f"b{i}" for i in range(len(ids))])  # fmt: skip
    return RerankContext(ep, cands, None, minmax(scores))


def test_reward_is_ndcg_plus_the_knobs_share_of_variety() -> None:
    ctx = _tiny(["a", "b"], {"a": 1})
    assert page_reward([0, 1], ctx, 0.0, 0.5) == pytest.approx(1.0)
    assert page_reward([1, 0], ctx, 0.0, 0.5) == pytest.approx(1.0 / np.log2(3))
    # orthogonal vectors: ILD 1; two brands of ten slots: 0.2
    assert page_reward([0, 1], ctx, 1.0, 0.5) == pytest.approx(1.0 + 0.5 * (1.0 + 0.2))
    assert page_reward([0, 1], _tiny(["a", "b"], {}), 0.0, 0.5) == 0.0  # nothing relevant


def test_reward_ndcg_is_the_reports_ndcg_on_graded_judgments() -> None:
    from evaluation.metrics import ranking_metrics

    ids = [f"i{i}" for i in range(12)]
    judgments = {"i1": 3, "i4": 1, "i7": 2, "i11": 1, "gone": 3}  # one relevant item not retrieved
    ctx = _tiny(ids, judgments)
    order = [4, 7, 0, 1, 2, 3, 5, 6, 8, 9]
    page = [ids[j] for j in order]
    report = float(ranking_metrics({"q": judgments}, {"q": page})["ndcg@10"][0])
    assert page_reward(order, ctx, 0.0, 0.5) == pytest.approx(report, rel=1e-6)


def test_cold_sampling_follows_the_greedy_page() -> None:
    ctx = _context(np.random.default_rng(1), "q")
    for d in (0.0, 0.5, 1.0):
        greedy = rerank(ctx.candidates, 10, Knobs(diversity=d, strategy="fusion")).order
        page = sample_page(ctx.candidates, 10, d, DEFAULT_WEIGHTS, 1e-4,
                           np.random.default_rng(0))  # fmt: skip
        assert page.order.tolist() == greedy.tolist()
        assert page.features.shape == (10, 30, len(FEATURE_NAMES))
        # an item already picked cannot be drawn again
        assert np.isneginf(page.tiers[-1][page.order[:-1]]).all()


def test_policy_gradient_learns_what_the_engine_score_misses() -> None:
    rng = np.random.default_rng(0)
    lists = [_context(rng, f"q{i}") for i in range(40)]
    blind = FusionWeights.from_mapping({"relevance": 1.0, "popularity": 0.0}, version="blind")
    cfg = TrainConfig(epochs=4, batch=8, seed=0, lr=0.05, knob_grid=(0.0,))
    result = train_policy(lists[:28], lists[28:], cfg, PolicyConfig(temperature=0.1),
                          init=blind)  # fmt: skip
    assert result.best_epoch >= 0
    learned = result.weights.effective(0.0)
    assert learned[COL["popularity"]] > 0.05
    scores = [row["valid/score"] for row in result.history]

    def mean_ndcg(weights: FusionWeights) -> float:
        knobs = Knobs(diversity=0.0, strategy="fusion")
        pages = [rerank(c.candidates, 10, knobs, weights=weights).order for c in lists[28:]]
        return float(np.mean([page_reward(p, c, 0.0, 0.5) for p, c in zip(pages, lists[28:],
                                                                          strict=True)]))

    assert max(scores) == pytest.approx(mean_ndcg(result.weights), abs=1e-6)
    assert mean_ndcg(result.weights) > mean_ndcg(blind) + 0.05
    again = train_policy(lists[:28], lists[28:], cfg, PolicyConfig(temperature=0.1), init=blind)
    np.testing.assert_array_equal(again.weights.values, result.weights.values)  # seeded


def test_policy_training_needs_lists() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        train_policy([], [], TrainConfig())
