"""DPP greedy MAP (Chen et al. 2018): hand-computed example, pyversity agreement, safety."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pyversity

from reranker.core import Candidates, EmbeddingRows, Knobs, dpp_select, rerank
from reranker.core.cholesky import IncrementalCholesky
from reranker.core.knob import dpp_theta

TINY = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 0.6, 0.8]], dtype=np.float32)
QUALITY = np.array([1.0, 0.9, 0.5], dtype=np.float32)


def test_hand_computed_theta_half() -> None:
    """θ = 0.5: key = quality + log d².

    step 0: item 0 (quality 1). Residuals given {0}: item 1: 1 - 0.8² = 0.36, item 2: 1.
    step 1: item 1 key 0.9 + ln 0.36 = -0.1217, item 2 key 0.5 + 0 -> item 2.
    step 2: Cholesky row of item 2 on item 1: (0.36 - 0·0.8)/1 = 0.36, so
    d² = 1 - 0.8² - 0.36² = 0.2304 = det(S_{0,2,1}) / det(S_{0,2}).
    """
    result = dpp_select(QUALITY, EmbeddingRows(TINY), 3, 0.5, explain=True)
    assert result.order.tolist() == [0, 2, 1]
    expected = [0.5, 0.25, 0.45 + 0.5 * math.log(0.2304)]
    np.testing.assert_allclose(result.scores, expected, atol=1e-5)
    gram = TINY @ TINY.T
    ratio = np.linalg.det(gram[np.ix_([0, 2, 1], [0, 2, 1])]) / np.linalg.det(
        gram[np.ix_([0, 2], [0, 2])]
    )
    assert ratio == pytest.approx(0.2304, abs=1e-5)
    assert result.parts is not None
    np.testing.assert_allclose(result.parts.sum(axis=1), result.scores, atol=1e-6)


def test_theta_one_is_quality_order_with_engine_ties() -> None:
    quality = np.array([0.5, 0.9, 0.9, 0.1], dtype=np.float32)
    assert dpp_select(
        quality, EmbeddingRows(np.eye(4, dtype=np.float32)), 4, 1.0
    ).order.tolist() == [
        1,
        2,
        0,
        3,
    ]


def _random(seed: int, n: int = 80, dim: int = 48) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return emb, rng.random(n).astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("beta", [0.2, 0.5, 1.0, 2.0])
def test_kernel_matches_pyversity(seed: int, beta: float) -> None:
    """pyversity: q = exp(β·zscore(scores)); ours with quality = z and θ/(1-θ) = 2β."""
    emb, scores = _random(seed)
    z = (scores - scores.mean()) / (scores.std() + np.finfo(np.float32).eps)
    theta = 2 * beta / (1 + 2 * beta)
    ours = dpp_select(z.astype(np.float32), EmbeddingRows(emb), 12, theta)
    theirs = pyversity.dpp(emb, scores, 12, diversity=0.5, scale=2 * beta)
    assert ours.order.tolist() == theirs.indices.tolist()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("diversity", [0.2, 0.5, 1.0])
def test_rerank_matches_pyversity_under_mapping(seed: int, diversity: float) -> None:
    """rerank: θ = 1 - 0.6·d on min-max relevance (range R); pyversity's z-scores divide by
    std, so β = θ·std / (2(1 - θ)·R), passed as diversity 0.5 and scale 2β."""
    emb, unit_scores = _random(seed)
    raw = (unit_scores * 0.3 + 0.6).astype(np.float32)  # a cosine-like scale
    engine_order = np.argsort(-raw, kind="stable")
    emb, raw = emb[engine_order], raw[engine_order]
    candidates = Candidates([f"d{i}" for i in range(len(raw))], raw, emb)
    ours = rerank(
        candidates, 10, Knobs(diversity=diversity, strategy="dpp", duplicate_threshold=1.0)
    )
    theta = dpp_theta(diversity)
    std = float(raw.std()) + float(np.finfo(np.float32).eps)
    beta = theta * std / (2 * (1 - theta) * float(raw.max() - raw.min()))
    theirs = pyversity.dpp(emb, raw, 10, diversity=0.5, scale=2 * beta)
    assert ours.order.tolist() == theirs.indices.tolist()


def test_duplicates_never_break_the_page_and_fill_by_quality() -> None:
    """Three copies of one vector and two others: the copies have zero residual after the
    first is picked, yet the page is filled, copies last and in quality order."""
    base = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    quality = np.array([1.0, 0.95, 0.9, 0.3, 0.2], dtype=np.float32)
    result = dpp_select(quality, EmbeddingRows(base), 5, 0.5)
    assert result.order.tolist() == [0, 3, 4, 1, 2]
    assert np.isfinite(result.scores).all()


def test_sliding_window_forgets_old_items() -> None:
    """Window 1: only the last pick counts, so an item orthogonal to it but equal to an
    earlier pick gets its full residual back."""
    chol = IncrementalCholesky(3, 3, window=1)
    emb = np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)
    rows = EmbeddingRows(emb)
    row = np.empty(3, dtype=np.float32)
    chol.add(0, rows.row(0, row))
    assert chol.d2[2] == pytest.approx(0.0, abs=1e-6)
    chol.add(1, rows.row(1, row))
    assert chol.d2[2] == pytest.approx(1.0, abs=1e-6)


def test_sliding_window_matches_full_dpp_while_window_is_not_full() -> None:
    emb, scores = _random(3, n=60)
    full = dpp_select(scores, EmbeddingRows(emb), 20, 0.6)
    windowed = dpp_select(scores, EmbeddingRows(emb), 20, 0.6, window=8)
    assert windowed.order[:9].tolist() == full.order[:9].tolist()
    assert len(set(windowed.order.tolist())) == 20


def _assert_residuals_of_window(
    chol: IncrementalCholesky, emb: np.ndarray, window: list[int]
) -> None:
    """``chol``'s residuals are those of a fresh float64 factorisation of ``window``."""
    gram = (emb[window] @ emb[window].T).astype(np.float64)
    cross = (emb[window] @ emb.T).astype(np.float64)
    expected = 1.0 - np.einsum("ij,ij->j", cross, np.linalg.solve(gram, cross))
    mask = np.ones(len(emb), dtype=bool)
    mask[window] = False
    np.testing.assert_allclose(chol.d2[mask], expected[mask], atol=1e-4)


def test_sliding_window_residuals_match_a_fresh_factorisation() -> None:
    emb, _ = _random(5, n=40, dim=16)
    rows = EmbeddingRows(emb)
    row = np.empty(40, dtype=np.float32)
    chol = IncrementalCholesky(40, 10, window=3)
    picks = [0, 5, 9, 13, 20]
    for j in picks:
        chol.add(j, rows.row(j, row))
    _assert_residuals_of_window(chol, emb, picks[-3:])


def test_many_slides_keep_residuals_exact() -> None:
    """Forty slides of the window (Givens downdates) accumulate no visible error."""
    emb, _ = _random(11, n=120, dim=32)
    rows = EmbeddingRows(emb)
    row = np.empty(120, dtype=np.float32)
    chol = IncrementalCholesky(120, 50, window=6)
    picks = np.random.default_rng(0).choice(120, 46, replace=False).tolist()
    for j in picks:
        assert chol.add(j, rows.row(j, row))
    _assert_residuals_of_window(chol, emb, picks[-6:])
    assert (chol.d2[picks[-6:]] == 0.0).all()


@pytest.mark.parametrize("window", [None, 3])
def test_inline_update_matches_incremental_cholesky(window: int | None) -> None:
    """With or without a window, dpp_select's log-gains at each pick are those of
    IncrementalCholesky (the one Cholesky update, shared with the fusion), bit for bit."""
    emb, scores = _random(7, n=50, dim=24)
    rows = EmbeddingRows(emb)
    result = dpp_select(scores, rows, 12, 0.5, window=window, explain=True)
    chol = IncrementalCholesky(50, 12, window)
    row = np.empty(50, dtype=np.float32)
    expected = []
    for j in result.order.tolist():
        gain = np.log(np.maximum(chol.d2, np.float32(1e-5)))
        expected.append(gain[j] * np.float32(0.5))
        chol.add(j, rows.row(j, row))
    assert result.parts is not None
    np.testing.assert_array_equal(result.parts[:, 1], np.array(expected, dtype=np.float32))


def test_custom_similarity_rows_are_asked_for_rows() -> None:
    """Only plain EmbeddingRows take the inlined mat-vec; any other rows source (here a
    subclass that counts) is called through ``row``: k - 1 times, never N×N."""
    emb, scores = _random(0, n=60)

    class Counting(EmbeddingRows):
        calls = 0

        def row(self, j: int, out: np.ndarray) -> np.ndarray:
            Counting.calls += 1
            return super().row(j, out)

    plain = dpp_select(scores, EmbeddingRows(emb), 10, 0.5)
    counted = dpp_select(scores, Counting(emb), 10, 0.5)
    assert Counting.calls == 9
    assert counted.order.tolist() == plain.order.tolist()
