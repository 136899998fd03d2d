"""Fitting the knob curve on validation NDCG: equal steps of the asked knob, equal NDCG cost."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from training.knob_curve import fit_knob_curve

GRID = [i / 20 for i in range(21)]


def _bent(noise: float = 0.0) -> list[float]:
    """Slow loss to 0.2, fast after (the shape the fusion shows on BM25), with a bump."""
    out = [0.44 - 0.002 * i if i <= 4 else 0.432 - 0.012 * (i - 4) for i in range(21)]
    out[7] += noise
    return out


def test_each_asked_step_costs_the_same_ndcg() -> None:
    ndcg = _bent()
    curve = fit_knob_curve(GRID, ndcg)
    assert [a for a, _ in curve] == pytest.approx(GRID)
    costs = np.diff([np.interp(applied, GRID, ndcg) for _, applied in curve])
    assert np.allclose(costs, costs[0], atol=1e-4) and costs[0] < 0
    steps_before = -np.diff(ndcg)  # the raw knob: 0.002 then 0.012 per step
    assert steps_before.max() > 5 * steps_before.min()


def test_noise_never_turns_the_curve_back() -> None:
    curve = fit_knob_curve(GRID, _bent(noise=0.03))
    applied = [b for _, b in curve]
    assert applied[0] == 0.0 and all(b >= a for a, b in itertools.pairwise(applied))


def test_free_diversity_keeps_the_knob() -> None:
    assert fit_knob_curve([0.0, 0.5, 1.0], [0.3, 0.31, 0.3]) == ((0.0, 0.0), (1.0, 1.0))


@pytest.mark.parametrize(
    ("knobs", "ndcg"), [([0.0, 1.0], [0.4]), ([0.1, 1.0], [0.4, 0.3]), ([0.0, 0.0, 1.0], [1, 1, 0])]
)
def test_bad_grids_are_refused(knobs: list[float], ndcg: list[float]) -> None:
    with pytest.raises(ValueError):
        fit_knob_curve(knobs, ndcg)
