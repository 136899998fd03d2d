"""Calibration (Steck 2018, "Calibrated Recommendations", RecSys): a list's category mix
should follow the shopper's, not collapse onto their single favourite category.

Miscalibration is ``KL(p || q̃)`` where ``p`` is the user's category distribution, ``q`` the
list's and ``q̃ = (1 - α)·q + α·p`` the smoothed list mix (α = 0.01, as in the paper) that keeps
the divergence finite when the list misses a category the user likes.

During greedy selection each candidate gets the change it would make, ``KL(S) - KL(S ∪ {i})``
(positive = the list moves toward the user's mix). Only candidates of a known category count
toward ``q``; one of an unknown category changes nothing (gain 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from reranker.core.types import FloatArray, IntArray

__all__ = ["CALIBRATION_ALPHA", "CalibrationState", "kl_divergence"]

CALIBRATION_ALPHA = 0.01


def kl_divergence(p: FloatArray, q: FloatArray, alpha: float = CALIBRATION_ALPHA) -> float:
    """``KL(p || (1 - α)q + αp)`` in nats, summed over categories with ``p > 0``.

    ``p`` and ``q`` are distributions over the same categories (each sums to 1, or ``q`` is
    all zeros for an empty list).
    """
    p64 = np.asarray(p, dtype=np.float64)
    q64 = np.asarray(q, dtype=np.float64)
    if p64.shape != q64.shape:
        raise ValueError(f"p has shape {p64.shape} but q has shape {q64.shape}")
    keep = p64 > 0
    p_kept = p64[keep]
    q_tilde = (1.0 - alpha) * q64[keep] + alpha * p_kept
    return float(np.sum(p_kept * np.log(p_kept / q_tilde)))


class CalibrationState:
    """Incremental ``KL(S) - KL(S ∪ {i})`` for every candidate while a list grows.

    Categories are split into: the user's categories present among candidates (tracked one by
    one), other known categories (they only grow the list's size), unknown (ignored), and the
    user's categories absent from the window (a constant ``p·log(1/α)`` in the KL).
    """

    def __init__(
        self,
        codes: IntArray,
        names: Sequence[str],
        user_mix: Mapping[str, float],
        alpha: float = CALIBRATION_ALPHA,
        table: FloatArray | None = None,
        tracked: list[int] | None = None,
    ) -> None:
        """``table``: optional buffer of ``n_slots(...)`` floats for the per-slot gains;
        ``tracked``: ``CalibrationState.tracked(names, user_mix)`` if already known.

        The per-category arithmetic runs on Python floats: it touches only the user's
        categories present in the window (a handful), where numpy's per-call cost dominates.
        """
        total = sum([v for v in user_mix.values() if v > 0])
        if total <= 0:
            raise ValueError("user category mix has no positive share")
        if tracked is None:
            tracked = self.tracked(names, user_mix)
        c = len(tracked)
        self.alpha = alpha
        self.p = p = [user_mix[names[i]] / total for i in tracked]
        log = math.log
        self._plogp = sum([pi * log(pi) for pi in p])
        outside = max(0.0, 1.0 - sum(p))
        log_inv_alpha = log(1.0 / alpha)
        self._outside_kl = outside * log_inv_alpha
        self._alpha_p = [alpha * pi for pi in p]
        # slot per code: tracked categories 0..c-1, other known c, unknown (-1, the last) c+1.
        slot = np.full(len(names) + 1, c, dtype=np.intp)
        for position, i in enumerate(tracked):
            slot[i] = position
        slot[-1] = c + 1
        self.slots = slot.take(codes)
        self.counts = [0.0] * c
        self.size = 0
        # empty list: q̃ = αp, so every tracked term is p·log(1/α)
        self.kl = (1.0 - outside) * log_inv_alpha + self._outside_kl
        self._table = table if table is not None else np.zeros(c + 2, dtype=np.float32)
        self._head = self._table[:-2]  # the tracked categories' slots
        self._n_tracked = c
        self._gain = np.zeros(c, dtype=np.float64)
        self._kl_base = 0.0
        self._refresh()

    @staticmethod
    def tracked(names: Sequence[str], user_mix: Mapping[str, float]) -> list[int]:
        """Codes of the user's categories (positive share) among ``names``, ascending."""
        get = user_mix.get
        return [i for i, name in enumerate(names) if get(name, 0.0) > 0]

    @staticmethod
    def n_slots(names: Sequence[str], user_mix: Mapping[str, float]) -> int:
        """Size of the gain table: tracked categories + "other known" + "unknown"."""
        return len(CalibrationState.tracked(names, user_mix)) + 2

    def _refresh(self) -> None:
        # KL after adding one item of each tracked category c: with the new size, x = q̃
        # without the item, and the item adds step = (1 - α)/(size + 1) to x_c, so
        # KL_c = KL_base - p_c·log(1 + step/x_c). Called once per greedy step: plain floats
        # over the (few) tracked categories, then one write into the gain table.
        step = (1.0 - self.alpha) / (self.size + 1)
        kl_base = self._plogp + self._outside_kl
        log, log1p = math.log, math.log1p
        gain = self._gain
        for i, (pi, count, alpha_pi) in enumerate(
            zip(self.p, self.counts, self._alpha_p, strict=True)
        ):
            x = count * step + alpha_pi
            kl_base -= pi * log(x)
            gain[i] = pi * log1p(step / x)
        self._kl_base = kl_base
        change = self.kl - kl_base
        # float32 gains plus the float32 change (as ``head[...] = gain; head += change``)
        np.add(gain, change, out=self._head, dtype=np.float32)
        self._table[-2] = change

    def gains(self, out: FloatArray) -> FloatArray:
        """Fill ``out`` with ``KL(S) - KL(S ∪ {i})`` for every candidate."""
        return self._table.take(self.slots, out=out, mode="clip")  # slots are in range

    def add(self, j: int) -> None:
        """Record candidate ``j`` as selected."""
        slot = self.slots.item(j)
        c = self._n_tracked
        if slot == c + 1:
            return
        if slot < c:
            self.kl = self._kl_base - self._gain.item(slot)
            self.counts[slot] += 1.0
        else:
            self.kl = self._kl_base
        self.size += 1
        self._refresh()
