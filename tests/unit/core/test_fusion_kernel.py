"""The compiled fusion step: one implementation behind the fast loop, explanations and rollouts.

The fast loop (``fusion_kernel.greedy``) and the step-by-step path (``choose`` and
``SelectionState.select`` from Python, used for explanations and training rollouts) must give
the same page with the same float32 scores, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from reranker.core import (
    DEFAULT_WEIGHTS,
    FEATURE_NAMES,
    Candidates,
    Knobs,
    UserProfile,
    rerank,
    rollout_features,
)
from reranker.core.fusion_kernel import fused_scores, similarity_row
from reranker.core.request import prepare
from reranker.core.selection_state import SelectionState

Make = Callable[..., Candidates]
MakeUser = Callable[..., UserProfile]


def _cases(make_candidates: Make, make_user: MakeUser) -> list[tuple[Candidates, int, Knobs, Any]]:
    rng = np.random.default_rng(7)
    cases = []
    for seed in range(60):
        c = make_candidates(int(rng.choice([12, 40, 90])), seed=seed)
        user = make_user(c, seed=seed) if seed % 3 else None
        extra: dict[str, Any] = {}
        if seed % 4 == 1:
            extra["max_per_brand"] = 2
        if seed % 5 == 2:
            extra["max_per_category"] = 2
        if seed % 6 == 3:
            extra["duplicate_threshold"] = 0.8
        strategy = "personalized" if seed % 7 == 0 else "fusion"
        knobs = Knobs(diversity=float(rng.choice([0.0, 0.15, 0.4, 0.7, 1.0])), strategy=strategy)
        cases.append((c, int(rng.choice([5, 10])), replace(knobs, **extra), user))
    return cases


def test_fast_loop_and_explained_path_give_identical_pages(
    make_candidates: Make, make_user: MakeUser
) -> None:
    for c, k, knobs, user in _cases(make_candidates, make_user):
        fast = rerank(c, k, knobs, user=user)
        slow = rerank(c, k, replace(knobs, explain=True), user=user)
        assert fast.order.tolist() == slow.order.tolist(), (knobs, user is not None)
        np.testing.assert_array_equal(fast.scores, slow.scores)


def test_rollout_replays_the_fast_page_exactly(make_candidates: Make, make_user: MakeUser) -> None:
    c = make_candidates(70, seed=3)
    user = make_user(c, seed=4)
    knobs = Knobs(diversity=0.7, strategy="fusion")
    page = rerank(c, 10, knobs, user=user)
    rollout = rollout_features(c, page.order.tolist(), knobs, user)
    w = DEFAULT_WEIGHTS.effective(0.7)
    checked = 0
    for t, j in enumerate(page.order.tolist()):
        scores = np.empty(70, dtype=np.float32)
        fused_scores(np.asfortranarray(rollout.features[t]), w, scores)
        # the page's score for this pick is the fused score the rollout reconstructs
        if scores[j] > -100:  # not a capped or duplicate pick (those carry a penalty tier)
            assert scores[j] == page.scores[t]
            checked += 1
    assert checked >= 5


def test_sliding_window_and_label_rows_run_compiled_like_the_explained_path(
    make_candidates: Make, make_user: MakeUser
) -> None:
    """The sliding-window DPP and label similarity run in the compiled loop too; the
    step-by-step (explained) path gives the same page and scores, bit for bit."""
    c = make_candidates(50, seed=5)
    labels_only = Candidates(
        c.ids, c.scores, None, c.categories, c.brands, c.category_names, c.brand_names
    )
    user = make_user(c, seed=6)
    for cand, knobs in (
        (c, Knobs(diversity=0.8, dpp_window=3)),
        (c, Knobs(diversity=1.0, dpp_window=2, max_per_brand=2)),
        (labels_only, Knobs(diversity=0.8)),
        (labels_only, Knobs(diversity=0.6, dpp_window=4)),
    ):
        fast = rerank(cand, 10, knobs, user=user)
        slow = rerank(cand, 10, replace(knobs, explain=True), user=user)
        order = fast.order.tolist()
        assert len(order) == len(set(order)) == 10
        assert slow.order.tolist() == order
        np.testing.assert_array_equal(fast.scores, slow.scores)


def test_selection_state_names_its_parameters(make_candidates: Make) -> None:
    c = make_candidates(30, seed=2)
    state = SelectionState(prepare(c, 10, Knobs(diversity=0.8, dpp_window=3)))
    params = state.params[0]
    assert params["window"] == 3 and params["dpp"] and params["track"]
    assert not params["label_rows"]
    for j in (4, 0, 9):
        state.select(j)
    assert state.size == 3 and params["members"] == 3
    assert state.state._fields[-1] == "params"


def test_similarity_row_matches_blas(make_candidates: Make) -> None:
    c = make_candidates(64, dim=384, seed=9)
    assert c.embeddings is not None
    out = np.empty(64, dtype=np.float32)
    for j in (0, 17, 63):
        similarity_row(c.embeddings, j, out)
        np.testing.assert_allclose(out, c.embeddings @ c.embeddings[j], rtol=0, atol=2e-6)
        assert out[j] == pytest.approx(1.0, abs=1e-5)


def test_fused_scores_is_the_weighted_sum() -> None:
    rng = np.random.default_rng(0)
    matrix = np.asfortranarray(rng.normal(size=(30, len(FEATURE_NAMES))).astype(np.float32))
    w = rng.normal(size=len(FEATURE_NAMES)).astype(np.float32)
    w[3] = 0.0
    out = np.empty(30, dtype=np.float32)
    fused_scores(matrix, w, out)
    np.testing.assert_allclose(out, matrix.astype(np.float64) @ w.astype(np.float64), atol=1e-5)
