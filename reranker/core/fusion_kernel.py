"""The fusion's per-step work, compiled (numba): choose a pick, then bring every feature up to date.

A fusion step is about twenty tiny array operations over ~100 candidates (similarity row,
redundancy, similarity sum, near-duplicate flags, the Cholesky update and log gain, cap
counts and penalties, the calibration refresh, the label gather, the score mat-vec, the
argmax). In numpy each costs a microsecond of dispatch for a fraction of that in arithmetic;
here the whole selection runs in one native call that releases the GIL.

A step is ``choose`` then ``advance``. ``greedy`` loops over them natively; explanations
(``explained_step``) and training rollouts run the same two functions one pick at a time, so a
page, its explanation and the trainer's features agree bit for bit. Caps and tiers come from
``caps.label_pick``, the Cholesky update from ``cholesky.cholesky_add``, the calibration
refresh from ``calibration.calibration_add``. No fast-math flags except in ``similarity.dot32``.

State is a ``KernelState`` of named arrays, built once per request by
``selection_state.SelectionState``; its scalar settings and the two counters live in one
structured record (``PARAMS_DTYPE``), so the whole state crosses into native code cheaply.
"""

from __future__ import annotations

import struct
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

from reranker.core.calibration import Float64Array, calibration_add
from reranker.core.caps import TIER_DUPLICATE, floor_pick, label_pick
from reranker.core.cholesky import cholesky_add
from reranker.core.similarity import dot32, label_row
from reranker.core.types import FloatArray, IntArray

__all__ = [
    "PARAMS_DTYPE",
    "KernelState",
    "advance",
    "choose",
    "explained_step",
    "fused_scores",
    "greedy",
    "make_params",
    "select",
    "similarity_row",
]

Int64Array = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]

PARAMS_DTYPE = np.dtype(
    [
        ("size", np.int64),  # picks so far
        ("members", np.int64),  # Cholesky rows in use
        ("track", np.bool_),  # keep the similarity columns (redundancy, and the ones below if on)
        ("label_rows", np.bool_),  # similarity from labels (no embeddings)
        ("similarity_sum", np.bool_),
        ("near_duplicate", np.bool_),
        ("dpp", np.bool_),
        ("window", np.int64),  # sliding DPP window (0 = the whole page)
        ("calibration", np.bool_),
        ("gather", np.bool_),  # copy the label table into the label columns after each pick
        ("novelty", np.bool_),
        # table offsets: brand pressure [0, o1), category pressure [o1, o2), calibration
        # [o2, o3), brand novelty [o3, o4), category novelty [o4, ...); the pressure part is
        # laid out like ``caps.HomogeneityConstraints.counts``
        ("o1", np.int64),
        ("o2", np.int64),
        ("o3", np.int64),
        ("o4", np.int64),
        ("brand_cap", np.int64),  # 0 = no cap
        ("category_cap", np.int64),
        ("brand_free", np.int64),  # the slot of unknown or exempt labels (never counted)
        ("category_free", np.int64),
        ("col_redundancy", np.int64),  # feature matrix columns
        ("col_similarity_sum", np.int64),
        ("col_dpp", np.int64),
        ("col_near_duplicate", np.int64),
        ("col_labels", np.int64),  # first of the five adjacent label columns
        ("duplicate_threshold", np.float32),
        ("gain_floor", np.float32),
        ("dpp_eps", np.float32),
        ("brand_scale", np.float32),  # pressure added per item of a label
        ("category_scale", np.float32),
    ]
)


_PARAM_NAMES: tuple[str, ...] = PARAMS_DTYPE.names or ()
_PARAM_VALUES = itemgetter(*_PARAM_NAMES)
# the record's bytes: numpy packs structured dtypes without padding, little-endian here
_PARAM_LAYOUT = struct.Struct(
    "<" + "".join({"i8": "q", "b1": "?", "f4": "f"}[PARAMS_DTYPE[n].str[1:]] for n in _PARAM_NAMES)
)


def make_params(**values: object) -> npt.NDArray[np.void]:
    """One ``PARAMS_DTYPE`` record from every field by name (a missing one is a KeyError).

    Packed with ``struct`` rather than ``np.array``: a few times faster, and it runs per request.
    """
    packed = bytearray(_PARAM_LAYOUT.pack(*_PARAM_VALUES(values)))
    return np.frombuffer(packed, dtype=PARAMS_DTYPE)


class KernelState(NamedTuple):
    """Everything the compiled step reads and updates for one request."""

    embeddings: FloatArray  # (n, d) unit rows, or (0, 0) with label rows
    label_brands: IntArray  # label-similarity codes (``similarity.LabelRows``)
    label_categories: IntArray
    matrix: FloatArray  # (n, F) features, Fortran order
    penalty: FloatArray  # (n,) cap tiers, -inf once selected
    table: FloatArray  # label lookups, see the offsets in ``PARAMS_DTYPE``
    slots: IndexArray  # (5, n) each candidate's entry in ``table`` per label column
    counts: Int64Array  # items on the page per label slot (``caps.label_pick``)
    floor: Int64Array  # the brand floor's state (``caps.floor_pick``)
    cal_vec: Float64Array  # ``calibration.CalibrationState`` arrays
    cal_scalars: Float64Array
    d2: FloatArray  # DPP residuals (``cholesky.py``)
    comps: FloatArray  # Cholesky rows
    members: Int64Array  # the candidate of each Cholesky row (sliding window)
    row: FloatArray  # (n,) the last pick's similarity row
    params: npt.NDArray[np.void]  # one ``PARAMS_DTYPE`` record


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
def advance(j: int, state: KernelState) -> None:
    """Put candidate ``j`` on the page and bring every step feature up to date."""
    p = state.params[0]
    matrix = state.matrix
    table = state.table
    slots = state.slots
    penalty = state.penalty
    row = state.row
    n = penalty.shape[0]
    size = p.size
    p.size = size + 1
    brand_free = p.brand_free
    category_free = p.category_free
    label_pick(
        j, slots, state.counts, p.brand_cap, p.category_cap, brand_free, category_free, penalty
    )
    floor_pick(j, slots, state.counts, brand_free, state.floor, penalty)
    # pressure (count / cap, in the table's first part) and novelty per label
    novelty = p.novelty
    o1 = p.o1
    for label in range(2):
        slot = slots[label, j]
        start = 0 if label == 0 else o1
        free = brand_free if label == 0 else category_free
        if novelty:
            at = (p.o3 if label == 0 else p.o4) - start
            if size == 0:  # the page is no longer empty: every known label is new
                table[at + start : at + free] = 1.0
            table[at + slot] = 0.0
        if slot != free:
            table[slot] += p.brand_scale if label == 0 else p.category_scale
    if p.track:
        if p.label_rows:
            label_row(state.label_brands, state.label_categories, j, row)
        else:
            similarity_row(state.embeddings, j, row)
        red = p.col_redundancy
        ssum = p.col_similarity_sum if p.similarity_sum else -1
        dup = p.col_near_duplicate if p.near_duplicate else -1
        threshold = p.duplicate_threshold
        for i in range(n):
            r = row[i]
            m = max(matrix[i, red], r)
            matrix[i, red] = m
            if ssum >= 0:
                matrix[i, ssum] += r
            if dup >= 0:
                matrix[i, dup] = 1.0 if m > threshold else 0.0
        if p.dpp:
            d2 = state.d2
            t = cholesky_add(
                j, row, d2, state.comps, state.members, p.members, p.dpp_eps, p.window
            )
            if t >= 0:
                p.members = t
            gain = p.col_dpp
            floor = p.gain_floor
            for i in range(n):
                matrix[i, gain] = np.log(max(d2[i], floor))
    if p.calibration:
        o2 = p.o2
        calibration_add(slots[2, j] - o2, state.cal_vec, state.cal_scalars, table[o2 : p.o3])
    if p.gather:
        first = p.col_labels
        for r in range(5):
            for i in range(n):
                matrix[i, first + r] = table[slots[r, i]]


@njit(cache=True, nogil=True)
def select(j: int, *arrays: Any) -> None:
    """``advance`` from Python: ``arrays`` are the ``KernelState`` fields (``*state``)."""
    advance(j, KernelState(*arrays))


@njit(cache=True, nogil=True)
def choose(
    w_key: FloatArray,
    w: FloatArray,
    fold: bool,
    dedup_threshold: float,
    key: FloatArray,
    state: KernelState,
) -> tuple[int, np.float32]:
    """The next pick and its fused score.

    ``key = matrix @ w_key + penalty``, minus the near-duplicate tier above
    ``dedup_threshold`` when that tier is not ``fold``-ed into ``w_key`` (< 0 = off); the
    pick is its first maximum. Its score is ``(matrix @ w)[j]``, without any penalty tier.
    """
    p = state.params[0]
    matrix = state.matrix
    penalty = state.penalty
    n = penalty.shape[0]
    fused_scores(matrix, w_key, key)
    for i in range(n):
        key[i] += penalty[i]
    tracked = p.track and p.size > 0
    if not fold and dedup_threshold >= 0.0 and tracked:
        thr = np.float32(dedup_threshold)
        red = p.col_redundancy
        for i in range(n):
            if matrix[i, red] > thr:
                key[i] -= TIER_DUPLICATE
    j = 0
    best = key[0]
    for i in range(1, n):
        if key[i] > best:
            best = key[i]
            j = i
    if penalty[j] != 0.0 or (
        matrix[j, p.col_near_duplicate] != 0.0
        if fold
        else tracked and best < _DUP_SCORE_LIMIT
    ):
        return j, _row_score(matrix, j, w)
    return j, best


@njit(cache=True, nogil=True)
def explained_step(
    previous: int,
    w_key: FloatArray,
    w: FloatArray,
    fold: bool,
    dedup_threshold: float,
    key: FloatArray,
    fused: FloatArray,
    *arrays: Any,
) -> tuple[int, np.float32]:
    """One pick for an explained page: ``advance`` past ``previous`` (< 0: none yet), then
    ``choose``, and ``fused = matrix @ w`` (every candidate's score, for the explanation).
    ``arrays``: the ``KernelState`` fields (see ``greedy``)."""
    state = KernelState(*arrays)
    if previous >= 0:
        advance(previous, state)
    j, score = choose(w_key, w, fold, dedup_threshold, key, state)
    fused_scores(state.matrix, w, fused)
    return j, score


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
    *arrays: Any,
) -> None:
    """The whole greedy fused selection of ``k`` items: ``choose`` and ``advance`` per pick.

    ``arrays``: the ``KernelState`` fields, passed as ``*state`` (numba's dispatcher takes
    plain arrays faster than a named tuple, and the named state is rebuilt here).
    """
    state = KernelState(*arrays)
    for t in range(k):
        j, score = choose(w_key, w, fold, dedup_threshold, key, state)
        order[t] = j
        scores[t] = score
        if t < k - 1:
            advance(j, state)
