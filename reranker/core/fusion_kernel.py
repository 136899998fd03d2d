"""The fusion's per-step work, compiled (numba): one pick's feature updates and the greedy loop.

A fusion step is about twenty tiny array operations over ~100 candidates (similarity row,
redundancy, similarity sum, near-duplicate flags, the DPP Cholesky update and log gain, cap
counts and penalties, the calibration refresh, the label gather, the score mat-vec, the
argmax). In numpy each costs a microsecond of dispatch for a fraction of that in arithmetic,
so interpreter and dispatch were 80% of a request. Here the whole selection runs in one
native call, and it releases the GIL.

There is one implementation of a step: ``advance`` is what the fast loop (``greedy``) runs
and also what ``SelectionState.select`` calls from Python for explanations, training
rollouts and the cases the fast loop does not take (label similarity, the sliding-window
DPP). So a page, its explanation and the trainer's features agree bit for bit (a unit test
checks it on random requests). No fast-math flags except in ``similarity.dot32``.

State lives in plain arrays owned by ``features.SelectionState`` (layout in the ``IP_*`` /
``FP_*`` indices below); the caps' counts, pressure and novelty tables are those of
``caps.HomogeneityConstraints`` and the calibration state that of ``CalibrationState``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from reranker.core.calibration import Float64Array, calibration_add
from reranker.core.caps import TIER_BRAND, TIER_CATEGORY, TIER_DUPLICATE
from reranker.core.similarity import dot32
from reranker.core.types import FloatArray, IntArray

__all__ = [
    "FP_FIELDS",
    "IP_FIELDS",
    "KernelState",
    "advance",
    "fused_scores",
    "greedy",
    "similarity_row",
]

# int64 parameters and counters (``ip``)
IP_FIELDS = (
    "size",  # picks so far
    "members",  # items in the DPP factorisation (inline DPP)
    "track",  # keep the similarity columns (redundancy, and the ones below if on)
    "similarity_sum",
    "near_duplicate",
    "dpp",  # 0 off, 1 inline Cholesky here, 2 updated by the caller (sliding window)
    "calibration",
    "gather",  # copy the label table into the label columns after each pick
    "novelty",
    "o1",  # table offsets: brand pressure [0, o1), category pressure [o1, o2),
    "o2",  # calibration [o2, o3), brand novelty [o3, o4), category novelty [o4, ...)
    "o3",
    "o4",
    "brand_cap",  # 0 = no cap
    "category_cap",
    "brand_free",  # the slot of unknown or exempt labels (never counted)
    "category_free",
    "col_redundancy",  # feature matrix columns
    "col_similarity_sum",
    "col_dpp",
    "col_near_duplicate",
    "col_labels",  # first of the five adjacent label columns
)
# float32 parameters (``fp``)
FP_FIELDS = ("duplicate_threshold", "gain_floor", "dpp_eps", "brand_scale", "category_scale")
(
    IP_SIZE,
    IP_MEMBERS,
    IP_TRACK,
    IP_SSUM,
    IP_DUP,
    IP_DPP,
    IP_CAL,
    IP_GATHER,
    IP_NOVEL,
    IP_O1,
    IP_O2,
    IP_O3,
    IP_O4,
    IP_BRAND_CAP,
    IP_CAT_CAP,
    IP_BRAND_FREE,
    IP_CAT_FREE,
    IP_COL_RED,
    IP_COL_SSUM,
    IP_COL_DPP,
    IP_COL_DUP,
    IP_COL_LABELS,
) = range(len(IP_FIELDS))
FP_DUP, FP_FLOOR, FP_EPS, FP_BRAND_SCALE, FP_CAT_SCALE = range(len(FP_FIELDS))

# emb, matrix, ip, fp, penalty, table, slots, brand counts, category counts, calibration
# vec and scalars, DPP residuals and Cholesky rows (``features.SelectionState.kernel_state``)
Int64Array = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]
KernelState = tuple[
    FloatArray,
    FloatArray,
    Int64Array,
    FloatArray,
    FloatArray,
    FloatArray,
    IndexArray,
    Int64Array,
    Int64Array,
    Float64Array,
    Float64Array,
    FloatArray,
    FloatArray,
]

_TIERS = np.array([TIER_BRAND, TIER_CATEGORY], dtype=np.float32)
_DUP_TIER = np.float32(TIER_DUPLICATE)
_DUP_SCORE_LIMIT = -float(TIER_DUPLICATE) / 2


@njit(cache=True, nogil=True)
def similarity_row(emb: FloatArray, j: int, out: FloatArray) -> None:
    """``out[i] = emb[i]·emb[j]`` (cosine of unit vectors), float32."""
    q = emb[j]
    for i in range(emb.shape[0]):
        out[i] = dot32(emb[i], q)


@njit(cache=True, nogil=True)
def fused_scores(matrix: FloatArray, w: FloatArray, out: FloatArray) -> None:
    """``out = matrix @ w`` (float32, features summed in column order; zero weights skipped)."""
    n, f = matrix.shape
    out[:] = 0.0
    for c in range(f):
        wc = w[c]
        if wc == 0.0:
            continue
        for i in range(n):
            out[i] += matrix[i, c] * wc


@njit(cache=True, nogil=True)
def _row_score(matrix: FloatArray, j: int, w: FloatArray) -> np.float32:
    """``(matrix @ w)[j]`` by the same additions as ``fused_scores``."""
    s = np.float32(0.0)
    for c in range(matrix.shape[1]):
        wc = w[c]
        if wc != 0.0:
            s += matrix[j, c] * wc
    return s


@njit(cache=True, nogil=True)
def advance(
    j: int, row: FloatArray, compute_row: bool, state: KernelState
) -> None:
    """Put candidate ``j`` on the page and bring every step feature up to date.

    ``row``: j's similarity row, computed here from ``emb`` when ``compute_row`` (else given).
    ``slots``: (5, n) indices into ``table`` of each candidate's brand pressure, category
    pressure, calibration, brand novelty and category novelty entries.
    """
    (
        emb,
        matrix,
        ip,
        fp,
        penalty,
        table,
        slots,
        brand_counts,
        category_counts,
        cal_vec,
        cal_scalars,
        d2,
        comps,
    ) = state
    n = penalty.shape[0]
    size = ip[IP_SIZE]
    ip[IP_SIZE] = size + 1
    # caps (as caps.HomogeneityConstraints.select): counts, pressure, novelty, cap tiers
    penalty[j] = -np.inf
    novel = ip[IP_NOVEL] != 0
    for label in range(2):
        pressure_at = 0 if label == 0 else ip[IP_O1]
        novelty_at = ip[IP_O3] if label == 0 else ip[IP_O4]
        free = ip[IP_BRAND_FREE + label]
        slot = slots[label, j] - pressure_at
        if novel:
            if size == 0:  # the page is no longer empty: every known label is new
                table[novelty_at : novelty_at + free] = 1.0
            table[novelty_at + slot] = 0.0
        if slot == free:
            continue
        counts = brand_counts if label == 0 else category_counts
        count = counts[slot] + 1
        counts[slot] = count
        table[pressure_at + slot] += fp[FP_BRAND_SCALE + label]
        if count == ip[IP_BRAND_CAP + label]:
            tier = _TIERS[label]
            for i in range(n):
                if slots[label, i] == slots[label, j]:
                    penalty[i] -= tier
    if ip[IP_TRACK] != 0:
        if compute_row:
            similarity_row(emb, j, row)
        red = ip[IP_COL_RED]
        ssum = ip[IP_COL_SSUM] if ip[IP_SSUM] != 0 else -1
        dup = ip[IP_COL_DUP] if ip[IP_DUP] != 0 else -1
        threshold = fp[FP_DUP]
        for i in range(n):
            r = row[i]
            m = max(matrix[i, red], r)
            matrix[i, red] = m
            if ssum >= 0:
                matrix[i, ssum] += r
            if dup >= 0:
                matrix[i, dup] = 1.0 if m > threshold else 0.0
        mode = ip[IP_DPP]
        if mode == 1:
            # Algorithm 1 of Chen, Zhang, Zhou (2018): one new Cholesky row, residuals down
            d2_j = d2[j]
            if d2_j > fp[FP_EPS]:
                members = ip[IP_MEMBERS]
                scale = np.float32(1.0 / math.sqrt(np.float64(d2_j)))
                c_new = comps[members]
                if members:
                    c_new[:] = 0.0
                    for m_row in range(members):
                        a = comps[m_row, j]
                        for i in range(n):
                            c_new[i] += a * comps[m_row, i]
                    for i in range(n):
                        c_new[i] = (row[i] - c_new[i]) * scale
                else:
                    for i in range(n):
                        c_new[i] = row[i] * scale
                for i in range(n):
                    d2[i] -= c_new[i] * c_new[i]
                d2[j] = 0.0
                ip[IP_MEMBERS] = members + 1
        if mode != 0:
            gain = ip[IP_COL_DPP]
            floor = fp[FP_FLOOR]
            for i in range(n):
                matrix[i, gain] = np.log(max(d2[i], floor))
    if ip[IP_CAL] != 0:
        o2 = ip[IP_O2]
        calibration_add(slots[2, j] - o2, cal_vec, cal_scalars, table[o2 : ip[IP_O3]])
    if ip[IP_GATHER] != 0:
        first = ip[IP_COL_LABELS]
        for r in range(5):
            for i in range(n):
                matrix[i, first + r] = table[slots[r, i]]


@njit(cache=True, nogil=True)
def greedy(
    k: int,
    w_key: FloatArray,
    w: FloatArray,
    fold: bool,
    dedup_threshold: float,
    order: IntArray,
    scores: FloatArray,
    key: FloatArray,
    row: FloatArray,
    state: KernelState,
) -> None:
    """The whole greedy fused selection of ``k`` items (embeddings, DPP inline or off).

    Each step: ``key = matrix @ w_key + penalty`` (minus the near-duplicate tier above
    ``dedup_threshold`` when it is not ``fold``-ed into ``w_key``; < 0 = off), argmax (first
    maximum), record the pick and its fused score ``(matrix @ w)[j]``, then ``advance``.
    """
    matrix, ip, penalty = state[1], state[2], state[4]
    n = penalty.shape[0]
    red = ip[IP_COL_RED]
    dup = ip[IP_COL_DUP]
    for t in range(k):
        fused_scores(matrix, w_key, key)
        for i in range(n):
            key[i] += penalty[i]
        tracked = ip[IP_TRACK] != 0 and ip[IP_SIZE] > 0
        if not fold and dedup_threshold >= 0.0 and tracked:
            thr = np.float32(dedup_threshold)
            for i in range(n):
                if matrix[i, red] > thr:
                    key[i] -= _DUP_TIER
        j = 0
        best = key[0]
        for i in range(1, n):
            if key[i] > best:
                best = key[i]
                j = i
        order[t] = j
        if penalty[j] != 0.0 or (
            matrix[j, dup] != 0.0 if fold else tracked and best < _DUP_SCORE_LIMIT
        ):
            scores[t] = _row_score(matrix, j, w)
        else:
            scores[t] = best
        if t < k - 1:
            advance(j, row, True, state)
