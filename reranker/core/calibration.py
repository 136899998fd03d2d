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
import numpy.typing as npt
from numba import njit

from reranker.core.types import FloatArray, IntArray

__all__ = [
    "CALIBRATION_ALPHA",
    "CalibrationState",
    "calibration_add",
    "calibration_refresh",
    "kl_divergence",
]

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


Float64Array = npt.NDArray[np.float64]

# Layout of the state arrays shared with the compiled fusion step (``fusion_kernel.py``).
VEC_P, VEC_COUNTS, VEC_ALPHA_P, VEC_GAIN = range(4)  # rows of ``vec`` (float64, (4, c))
SC_ALPHA, SC_PLOGP, SC_OUTSIDE_KL, SC_KL, SC_KL_BASE, SC_SIZE = range(6)  # ``scalars``


@njit(cache=True, nogil=True)
def calibration_refresh(vec: Float64Array, scalars: Float64Array, table: FloatArray) -> None:
    """Recompute the per-slot gains after the list changed.

    KL after adding one item of each tracked category c: with the new size, x = q̃ without
    the item, and the item adds step = (1 - α)/(size + 1) to x_c, so
    KL_c = KL_base - p_c·log(1 + step/x_c). Float64 over the (few) tracked categories, then
    float32 gains into ``table``: [tracked categories | other known | unknown (stays 0)].
    """
    c = vec.shape[1]
    step = (1.0 - scalars[SC_ALPHA]) / (scalars[SC_SIZE] + 1.0)
    kl_base = scalars[SC_PLOGP] + scalars[SC_OUTSIDE_KL]
    for i in range(c):
        p = vec[VEC_P, i]
        x = vec[VEC_COUNTS, i] * step + vec[VEC_ALPHA_P, i]
        kl_base -= p * math.log(x)
        vec[VEC_GAIN, i] = p * math.log1p(step / x)
    scalars[SC_KL_BASE] = kl_base
    change = np.float32(scalars[SC_KL] - kl_base)
    for i in range(c):
        table[i] = np.float32(vec[VEC_GAIN, i]) + change
    table[c] = change


@njit(cache=True, nogil=True)
def calibration_add(
    slot: int, vec: Float64Array, scalars: Float64Array, table: FloatArray
) -> None:
    """Record one selected item of calibration slot ``slot`` and refresh the gains."""
    c = vec.shape[1]
    if slot == c + 1:  # unknown category: the list's known mix is unchanged
        return
    if slot < c:
        scalars[SC_KL] = scalars[SC_KL_BASE] - vec[VEC_GAIN, slot]
        vec[VEC_COUNTS, slot] += 1.0
    else:
        scalars[SC_KL] = scalars[SC_KL_BASE]
    scalars[SC_SIZE] += 1.0
    calibration_refresh(vec, scalars, table)


class CalibrationState:
    """Incremental ``KL(S) - KL(S ∪ {i})`` for every candidate while a list grows.

    Categories are split into: the user's categories present among candidates (tracked one by
    one), other known categories (they only grow the list's size), unknown (ignored), and the
    user's categories absent from the window (a constant ``p·log(1/α)`` in the KL).

    The state lives in two small float64 arrays (``vec``, ``scalars``) updated by compiled
    functions, so the fusion's compiled greedy loop advances it without leaving native code.
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
        ``tracked``: ``CalibrationState.tracked(names, user_mix)`` if already known."""
        total = sum([v for v in user_mix.values() if v > 0])
        if total <= 0:
            raise ValueError("user category mix has no positive share")
        if tracked is None:
            tracked = self.tracked(names, user_mix)
        c = len(tracked)
        self.alpha = alpha
        p = [user_mix[names[i]] / total for i in tracked]
        log = math.log
        outside = max(0.0, 1.0 - sum(p))
        log_inv_alpha = log(1.0 / alpha)
        vec = np.zeros((4, c), dtype=np.float64)
        vec[VEC_P] = p
        vec[VEC_ALPHA_P] = [alpha * pi for pi in p]
        scalars = np.zeros(6, dtype=np.float64)
        scalars[SC_ALPHA] = alpha
        scalars[SC_PLOGP] = sum([pi * log(pi) for pi in p])
        scalars[SC_OUTSIDE_KL] = outside * log_inv_alpha
        # empty list: q̃ = αp, so every tracked term is p·log(1/α)
        scalars[SC_KL] = (1.0 - outside) * log_inv_alpha + outside * log_inv_alpha
        self.vec = vec
        self.scalars = scalars
        self.p = p
        # slot per code: tracked categories 0..c-1, other known c, unknown (-1, the last) c+1.
        slot = np.full(len(names) + 1, c, dtype=np.intp)
        for position, i in enumerate(tracked):
            slot[i] = position
        slot[-1] = c + 1
        self.slots = slot.take(codes)
        self.table = table if table is not None else np.zeros(c + 2, dtype=np.float32)
        calibration_refresh(vec, scalars, self.table)

    @staticmethod
    def tracked(names: Sequence[str], user_mix: Mapping[str, float]) -> list[int]:
        """Codes of the user's categories (positive share) among ``names``, ascending."""
        get = user_mix.get
        return [i for i, name in enumerate(names) if get(name, 0.0) > 0]

    @staticmethod
    def n_slots(names: Sequence[str], user_mix: Mapping[str, float]) -> int:
        """Size of the gain table: tracked categories + "other known" + "unknown"."""
        return len(CalibrationState.tracked(names, user_mix)) + 2

    @property
    def kl(self) -> float:
        """``KL(p || q̃)`` of the list so far."""
        return float(self.scalars[SC_KL])

    @property
    def size(self) -> int:
        """Items of a known category on the list."""
        return int(self.scalars[SC_SIZE])

    def gains(self, out: FloatArray) -> FloatArray:
        """Fill ``out`` with ``KL(S) - KL(S ∪ {i})`` for every candidate."""
        return self.table.take(self.slots, out=out, mode="clip")  # slots are in range

    def add(self, j: int) -> None:
        """Record candidate ``j`` as selected."""
        calibration_add(self.slots.item(j), self.vec, self.scalars, self.table)
