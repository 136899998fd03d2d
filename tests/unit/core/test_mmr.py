"""MMR: a hand-computed example, and agreement with pyversity and langchain-core."""

from __future__ import annotations

import numpy as np
import pytest
import pyversity
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from reranker.core import Candidates, EmbeddingRows, Knobs, mmr_select, rerank
from reranker.core.knob import mmr_gamma

# e0 = x-axis, e1 at cos 0.8 from e0, e2 orthogonal to e0 (cos 0.6 with e1)
TINY = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
QUALITY = np.array([1.0, 0.9, 0.5], dtype=np.float32)


def test_hand_computed_gamma_half() -> None:
    # step 0: 0.5·q -> item 0 (0.5). step 1: item 1 0.45 - 0.5·0.8 = 0.05, item 2 0.25 - 0 = 0.25
    # -> item 2. step 2: item 1, max sim 0.8 -> 0.05.
    result = mmr_select(QUALITY, EmbeddingRows(TINY), 3, 0.5, explain=True)
    assert result.order.tolist() == [0, 2, 1]
    np.testing.assert_allclose(result.scores, [0.5, 0.25, 0.05], atol=1e-6)
    assert result.parts is not None
    np.testing.assert_allclose(result.parts.sum(axis=1), result.scores, atol=1e-6)
    np.testing.assert_allclose(result.parts[:, 1], [0.0, 0.0, -0.4], atol=1e-6)


def test_hand_computed_gamma_small_keeps_relevance_order() -> None:
    # γ = 0.1: item 1 scores 0.81 - 0.08 = 0.73 > item 2's 0.45
    assert mmr_select(QUALITY, EmbeddingRows(TINY), 3, 0.1).order.tolist() == [0, 1, 2]


def _random(seed: int, n: int = 80, dim: int = 48) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return emb, rng.random(n).astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("diversity", [0.1, 0.3, 0.5, 0.8])
def test_kernel_matches_pyversity(seed: int, diversity: float) -> None:
    """pyversity mmr(diversity) == mmr_select(quality=scores, γ=diversity), cosine clipped."""
    emb, scores = _random(seed)
    ours = mmr_select(scores, EmbeddingRows(emb), 12, diversity)
    theirs = pyversity.mmr(emb, scores, 12, diversity)
    assert ours.order.tolist() == theirs.indices.tolist()
    np.testing.assert_allclose(ours.scores, theirs.selection_scores, atol=1e-5)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("diversity", [0.2, 0.6, 1.0])
def test_rerank_matches_pyversity_under_mapping(seed: int, diversity: float) -> None:
    """rerank normalises scores to [0, 1] (range R) and uses γ = 0.7·d, so pyversity needs
    diversity' = γR / (1 - γ + γR) on the raw scores."""
    emb, unit_scores = _random(seed)
    raw = (unit_scores * 30.0 + 5.0).astype(np.float32)  # a BM25-like scale
    engine_order = np.argsort(-raw, kind="stable")
    emb, raw = emb[engine_order], raw[engine_order]
    candidates = Candidates([f"d{i}" for i in range(len(raw))], raw, emb)
    knobs = Knobs(diversity=diversity, strategy="mmr", duplicate_threshold=1.0)
    ours = rerank(candidates, 10, knobs)
    g, spread = mmr_gamma(diversity), float(raw.max() - raw.min())
    theirs = pyversity.mmr(emb, raw, 10, g * spread / (1.0 - g + g * spread))
    assert ours.order.tolist() == theirs.indices.tolist()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lambda_mult", [0.3, 0.5, 0.9])
def test_kernel_matches_langchain(seed: int, lambda_mult: float) -> None:
    """langchain: quality = cos(query, e_i), γ = 1 - lambda_mult, similarity not clipped."""
    emb, _ = _random(seed)
    query = np.random.default_rng(100 + seed).normal(size=emb.shape[1]).astype(np.float32)
    query /= np.linalg.norm(query)
    theirs = maximal_marginal_relevance(query, list(emb), lambda_mult=lambda_mult, k=10)
    ours = mmr_select(emb @ query, EmbeddingRows(emb), 10, 1.0 - lambda_mult, clip_negative=False)
    assert ours.order.tolist() == theirs


def test_mmr_computes_only_k_rows() -> None:
    """Only k - 1 similarity rows are ever requested (no N×N matrix)."""
    emb, scores = _random(0, n=200)

    class Counting(EmbeddingRows):
        calls = 0

        def row(self, j: int, out: np.ndarray) -> np.ndarray:
            Counting.calls += 1
            return super().row(j, out)

    mmr_select(scores, Counting(emb), 10, 0.5)
    assert Counting.calls == 9
