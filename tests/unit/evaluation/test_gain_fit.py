"""`training.gain_fit`: the temperature of the learned relevance's gain curve and the knob
curve that goes with it, chosen on validation lists (synthetic here, seconds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from evaluation.episodes import Episode, ItemTable
from evaluation.strategies import CoreStrategy, RerankContext
from evaluation.sweep import build_contexts, sweep
from reranker.core.normalize import learned_gains, normalize_learned
from reranker.core.weights import DEFAULT_WEIGHTS
from training.frontier import learned_target_score
from training.gain_fit import SCORE_KNOBS, fit_gain, with_temperature


def _lists(
    make_table: Callable[..., ItemTable], seed: int
) -> tuple[list[RerankContext], list[Any], ItemTable]:
    """16 windows of 30 over a clustered catalog; the 'model' knows the judgments, noisily."""
    rng = np.random.default_rng(seed)
    n_items = 120
    table = make_table(rng, n_items, clusters=6, categories=5, brands=8)
    episodes, grades = [], []
    for q in range(16):
        rows = rng.choice(n_items, 30, replace=False).astype(np.int32)
        scores = np.sort(rng.random(30).astype(np.float32))[::-1].copy()
        grade = np.zeros(30)
        grade[rng.choice(30, 8, replace=False)] = rng.integers(1, 4, 8)
        judged = {str(table.ids[r]): int(g) for r, g in zip(rows, grade, strict=True) if g}
        episodes.append(Episode(f"q{q}", "query", "", "valid", rows, scores, None, judged,
                                np.zeros(0, np.int32)))  # fmt: skip
        grades.append(grade)
    lists, metrics = build_contexts(episodes, table, None)
    learned = []
    for ctx, grade in zip(lists, grades, strict=True):
        raw = (grade + rng.normal(scale=0.8, size=30)).astype(np.float32)
        learned.append(replace(ctx, learned=replace(ctx.candidates,
                                                    relevance=normalize_learned(raw))))  # fmt: skip
    return learned, metrics, table


def test_the_chosen_temperature_scores_best_and_gets_its_own_knob_curve(
    make_table: Callable[..., ItemTable],
) -> None:
    sets = [_lists(make_table, 1), _lists(make_table, 2)]
    said: list[str] = []
    fit = fit_gain(sets, DEFAULT_WEIGHTS, [0.0, 0.2, 1.0], say=said.append)
    assert set(fit.scores) == {0.0, 0.2, 1.0} and len(said) == 3
    assert fit.scores[fit.temperature] == max(fit.scores.values())
    # each score is the learned targets' score of the fusion at that temperature, averaged
    fusion = CoreStrategy("f", "fusion", weights=DEFAULT_WEIGHTS, learned_relevance=True)
    engine = CoreStrategy("engine", "engine", knob_sensitive=False)
    for t, score in fit.scores.items():
        own = []
        for lists, metrics, table in sets:
            base = sweep(lists, metrics, table, [engine], (0.0,), False)[0]
            pts = sweep(with_temperature(lists, t), metrics, table, [fusion], SCORE_KNOBS, False)
            own.append(learned_target_score(pts, base))
        assert score == pytest.approx(float(np.mean(own)))
    curve = fit.knob_curve
    assert curve[0] == (0.0, 0.0) and len(curve) in (2, 21)
    assert all(b1 <= b2 for (_, b1), (_, b2) in pairwise(curve))
    assert fit == fit_gain(sets, DEFAULT_WEIGHTS, [0.0, 0.2, 1.0])  # deterministic


def test_curving_keeps_each_windows_order_and_needs_the_models_scores(
    make_table: Callable[..., ItemTable],
) -> None:
    lists, _, _ = _lists(make_table, 3)
    curved = with_temperature(lists, 0.1)
    for before, after in zip(lists, curved, strict=True):
        assert before.learned is not None and after.learned is not None
        np.testing.assert_allclose(after.learned.relevance,
                                   learned_gains(before.learned.relevance, 0.1))  # fmt: skip
        assert np.array_equal(np.argsort(-after.learned.relevance, kind="stable"),
                              np.argsort(-before.learned.relevance, kind="stable"))  # fmt: skip
    bare = [replace(lists[0], learned=None)]
    with pytest.raises(ValueError, match="carries no relevance model scores"):
        with_temperature(bare, 0.1)
    with pytest.raises(ValueError, match="validation lists"):
        fit_gain([], DEFAULT_WEIGHTS, [0.0])
    with pytest.raises(ValueError, match="at least one temperature"):
        fit_gain([_lists(make_table, 4)], DEFAULT_WEIGHTS, [])

