"""Calibration KL (Steck 2018) with smoothing, checked by hand and incrementally."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reranker.core import CalibrationState, kl_divergence


def test_kl_hand_computed() -> None:
    # p = (0.5, 0.5), list all in the first category: q̃ = (0.995, 0.005)
    # KL = 0.5·ln(0.5/0.995) + 0.5·ln(0.5/0.005)
    expected = 0.5 * math.log(0.5 / 0.995) + 0.5 * math.log(0.5 / 0.005)
    assert kl_divergence(np.array([0.5, 0.5]), np.array([1.0, 0.0]), alpha=0.01) == pytest.approx(
        expected
    )
    assert expected == pytest.approx(1.9585, abs=1e-4)


def test_kl_zero_when_mixes_match_and_finite_when_list_misses_a_category() -> None:
    p = np.array([0.2, 0.3, 0.5])
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert math.isfinite(kl_divergence(p, np.array([0.0, 0.0, 1.0])))
    # empty list: q̃ = αp, KL = ln(1/α)
    assert kl_divergence(p, np.zeros(3), alpha=0.01) == pytest.approx(math.log(100))


def test_incremental_gains_match_recomputed_kl() -> None:
    names = ["a", "b", "c", "d"]
    mix = {"a": 0.5, "b": 0.3, "elsewhere": 0.2}
    codes = np.array([0, 0, 1, 2, 3, -1, 1, 0], dtype=np.int32)
    full_p = np.array([0.5, 0.3, 0.0, 0.0, 0.2])  # a, b, c, d, elsewhere

    def kl_of(selected: list[int]) -> float:
        counts = np.zeros(5)
        for j in selected:
            if codes[j] >= 0:
                counts[codes[j]] += 1
        q = counts / counts.sum() if counts.sum() else counts
        return kl_divergence(full_p, q)

    state = CalibrationState(codes, names, mix)
    gains = np.empty(len(codes), dtype=np.float32)
    selected: list[int] = []
    for j in [0, 3, 6, 5, 1, 4]:
        state.gains(out=gains)
        expected = [kl_of(selected) - kl_of([*selected, i]) for i in range(len(codes))]
        np.testing.assert_allclose(gains, expected, atol=1e-5)
        assert state.kl == pytest.approx(kl_of(selected), abs=1e-9)
        selected.append(j)
        state.add(j)
    # unknown category (code -1) changes nothing
    assert gains[5] == 0.0


def test_no_positive_share_is_an_error() -> None:
    with pytest.raises(ValueError, match="no positive share"):
        CalibrationState(np.zeros(2, dtype=np.int32), ["a"], {"a": 0.0})
