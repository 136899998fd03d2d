"""A knob whose every step costs the same relevance: the map from the knob a request asks for
to the knob the fusion runs at, fitted on validation.

The fusion's NDCG falls slowly at low diversity and fast later (caps and the near-duplicate
ramp start mid-way), so equal knob steps cost unequal relevance. Given validation NDCG@10 on a
grid of applied knobs, the asked knob ``a`` is sent to the applied knob whose NDCG lies the
share ``a`` of the way from NDCG(0) to NDCG(1): each step of ``a`` then costs ``(NDCG(0) -
NDCG(1)) / steps`` on validation. NDCG is made non-increasing first (a running minimum), so
noise never turns the map back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["fit_knob_curve", "pooled_curve"]


def fit_knob_curve(
    applied: Sequence[float], ndcg: Sequence[float], steps: int = 20
) -> tuple[tuple[float, float], ...]:
    """``steps + 1`` points (asked, applied) from validation NDCG at the ``applied`` knobs."""
    knobs = np.asarray(applied, dtype=np.float64)
    scores = np.asarray(ndcg, dtype=np.float64)
    if knobs.shape != scores.shape or knobs.size < 2:
        raise ValueError("need NDCG at two or more knobs, one value per knob")
    if knobs[0] != 0.0 or knobs[-1] != 1.0 or np.any(np.diff(knobs) <= 0):
        raise ValueError(f"the knob grid must rise from 0 to 1, got {knobs.tolist()}")
    if steps < 1:
        raise ValueError("steps must be at least 1")
    envelope = np.minimum.accumulate(scores)
    drop = envelope[0] - envelope[-1]
    if drop <= 0:  # diversity costs no NDCG on validation: nothing to even out
        return ((0.0, 0.0), (1.0, 1.0))
    points = []
    for i in range(steps + 1):
        asked = i / steps
        target = envelope[0] - asked * drop
        j = int(np.argmax(envelope <= target + 1e-12))  # first knob reaching the target
        if j == 0:
            value = 0.0
        else:  # between knobs j-1 (above the target) and j (at or below it)
            above, below = envelope[j - 1], envelope[j]
            share = (above - target) / (above - below)
            value = knobs[j - 1] + share * (knobs[j] - knobs[j - 1])
        points.append((asked, round(float(value), 4)))
    return tuple(points)


def pooled_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    """Several candidate sets' NDCG on one knob grid as one curve: each relative to its own
    NDCG at knob 0, averaged, so no set weighs more for scoring higher."""
    if not curves or any(len(c) != len(curves[0]) for c in curves):
        raise ValueError("need one or more NDCG curves on the same knob grid")
    if any(c[0] <= 0 for c in curves):
        raise ValueError("a curve has no NDCG at knob 0 to compare against")
    return np.mean([[v / c[0] for v in c] for c in curves], axis=0).tolist()
