"""Incremental Cholesky factorisation of the selected set's similarity kernel (compiled).

The DPP's greedy MAP inference (Chen, Zhang, Zhou 2018, NeurIPS, Algorithm 1) needs, for every
candidate ``i``, its residual ``d_i²``: the conditional variance of ``i`` given the selected
set under a similarity kernel with unit diagonal. Adding a member appends one Cholesky row
``c = (S[j] - Cᵀ C[:, j]) / d_j`` and lowers every residual by ``c²``; it is one pass over the
rows already there, O(t·N). DPP selection (``dpp.py``) and the fusion's ``dpp_gain`` feature
(``fusion_kernel.py``) both call ``cholesky_add``, so the two agree bit for bit.

A candidate whose residual is ``eps`` or below lies in the span of the members; it is not
added (no division by ~0), and the caller fills the page by quality instead.

Sliding window (section 5 of the paper): with ``window = w`` only the last ``w`` members count.
When a member beyond ``w`` arrives, the oldest leaves the factorisation by Givens rotations
of the Cholesky rows (``drop_oldest``): O(w·N) and exact up to float32 rounding, instead of a
w×w re-factorisation per slide.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from reranker.core.types import FloatArray

__all__ = ["DPP_EPS", "IncrementalCholesky", "cholesky_add", "drop_oldest"]

DPP_EPS = 1e-5
Int64Array = npt.NDArray[np.int64]


@njit(cache=True, nogil=True)
def drop_oldest(comps: FloatArray, t: int, members: Int64Array, d2: FloatArray) -> None:
    """Remove the first of ``t`` members from the Cholesky rows by Givens rotations.

    With ``S_W = L·C`` (``L`` lower triangular, ``L[a, b] = C[b, member_a]``), the remaining
    members' rows of ``L`` have one entry above the diagonal each; rotating component rows
    (r, r + 1) zeroes it, so their ``L`` is triangular again and the last component row now
    belongs to no member: it is dropped, and every residual gets its square back.
    """
    n = comps.shape[1]
    for r in range(t - 1):
        j = members[r + 1]
        x = np.float64(comps[r, j])
        y = np.float64(comps[r + 1, j])
        rho = math.hypot(x, y)
        if rho == 0.0:
            continue
        c = np.float32(x / rho)
        s = np.float32(y / rho)
        a = comps[r]
        b = comps[r + 1]
        for i in range(n):
            u = a[i]
            v = b[i]
            a[i] = c * u + s * v
            b[i] = c * v - s * u
    last = comps[t - 1]
    for i in range(n):
        d2[i] += last[i] * last[i]
        last[i] = 0.0
    for r in range(1, t):
        d2[members[r]] = 0.0  # the members still in the window stay fully explained


@njit(cache=True, nogil=True, inline="always")
def cholesky_add(
    j: int,
    row: FloatArray,
    d2: FloatArray,
    comps: FloatArray,
    members: Int64Array,
    t: int,
    eps: float,
    window: int,
) -> int:
    """Add candidate ``j`` (``row`` = its similarity row) to a factorisation of ``t`` rows.

    ``comps``: (k, n) Cholesky rows, the first ``t`` in use; ``members``: the candidate of
    each row (read only with a ``window`` > 0, the number of members kept). Returns the new
    number of rows, or -1 when ``j`` lies in the members' span (nothing changes then).
    """
    d2_j = d2[j]
    if d2_j <= eps:
        return -1
    n = d2.shape[0]
    scale = np.float32(1.0 / math.sqrt(np.float64(d2_j)))
    c_new = comps[t]
    if t:
        c_new[:] = 0.0
        for m in range(t):
            a = comps[m, j]
            for i in range(n):
                c_new[i] += a * comps[m, i]
        for i in range(n):
            c_new[i] = (row[i] - c_new[i]) * scale
    else:
        for i in range(n):
            c_new[i] = row[i] * scale
    for i in range(n):
        d2[i] -= c_new[i] * c_new[i]
    d2[j] = 0.0
    t += 1
    if window > 0:
        members[t - 1] = j
        if t > window:
            drop_oldest(comps, t, members, d2)
            for r in range(t - 1):
                members[r] = members[r + 1]
            t -= 1
    return t


class IncrementalCholesky:
    """Residuals ``d_i²`` of every candidate given the selected set (or its last ``window``)."""

    def __init__(self, n: int, k: int, window: int | None = None, eps: float = DPP_EPS) -> None:
        self.window = window if window is not None and window < k else None
        self.eps = float(np.float32(eps))  # compared with float32 residuals
        self.d2 = np.ones(n, dtype=np.float32)
        self.comps = np.zeros((k, n), dtype=np.float32)
        self.members = np.zeros(k, dtype=np.int64)
        self.rows = 0

    def add(self, j: int, row: FloatArray) -> bool:
        """Add candidate ``j`` (``row`` = its similarity row). False if it was degenerate."""
        t = cholesky_add(
            j, row, self.d2, self.comps, self.members, self.rows, self.eps, self.window or 0
        )
        if t < 0:
            return False
        self.rows = t
        return True
