"""Greedy MAP inference for a DPP with incremental Cholesky (Chen, Zhang, Zhou 2018, NeurIPS,
"Fast Greedy MAP Inference for Determinantal Point Process to Improve Recommendation Diversity").

Kernel ``L = diag(q)·S·diag(q)``: quality ``q_i = exp(α·quality_i)`` times similarity ``S``
(cosine, or label similarity). Since the Cholesky factor of ``L`` is ``diag(q)`` times that of
``S``, the conditional variance of candidate ``i`` given the selected set ``Y`` is
``q_i²·d_i²`` with ``d_i²`` the residual of ``S`` alone. So the state is kept for ``S`` (values
in [0, 1], no overflow however large α gets), and a step picks

    argmax_i  θ·quality_i + (1 - θ)·log d_i²        (the paper's θ trade-off, α = θ/(2(1 - θ)))

Each step costs one mat-vec for the new row of ``S`` and one for the projection on the
selected items' Cholesky rows (Algorithm 1): O(k·N·(d + k)) in all, float32 throughout.

Safety: a candidate whose residual falls to ``DPP_EPS`` or below lies in the span of the
selected items; its log-gain is floored there, and if picked (only when nothing better is
left) it does not enter the factorisation, so there is never a division by ~0 and the page is
filled by quality instead of stopping short.

Sliding window (section 5 of the paper): with ``window = w`` only the last ``w`` selected items
count for diversity, for long pages where an item need not differ from one 40 rows above.
When the window slides, the oldest member leaves the factorisation by w Givens rotations of
the Cholesky rows (``drop_oldest``, compiled): O(w·N), exact up to float32 rounding.

Mapping to pyversity 0.2.0 ``dpp(embeddings, scores, k, diversity, scale)``: it uses
``q_i = exp(β·z_i)`` with ``z`` the z-scored scores and ``β = (1 - diversity)·scale``; that is
this selection with ``quality = z`` and ``θ/(1 - θ) = 2β``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from reranker.core.caps import HomogeneityConstraints
from reranker.core.selection import GreedyResult, Trace
from reranker.core.similarity import EmbeddingRows, SimilarityRows
from reranker.core.types import FloatArray

__all__ = ["DPP_EPS", "DPP_PARTS", "IncrementalCholesky", "dpp_select", "drop_oldest"]

DPP_EPS = 1e-5
DPP_PARTS = ("quality", "dpp_gain")


class IncrementalCholesky:
    """Residuals ``d_i²`` of every candidate given the selected set (or its last ``window``)."""

    def __init__(self, n: int, k: int, window: int | None = None, eps: float = DPP_EPS) -> None:
        self.window = window if window is not None and window < k else None
        self.eps = np.float32(eps)
        self._eps = float(self.eps)  # the same float32 value, for scalar comparisons
        self.d2 = np.ones(n, dtype=np.float32)
        self._c = np.zeros((k, n), dtype=np.float32)  # Cholesky rows c_t (one per member)
        self._tmp = np.empty(n, dtype=np.float32)
        self._t = 0
        self._members: list[int] = []

    def add(self, j: int, row: FloatArray) -> bool:
        """Add candidate ``j`` (``row`` = its similarity row). False if it was degenerate."""
        d2 = self.d2
        d2_j = d2.item(j)
        if d2_j <= self._eps:
            return False
        t = self._t
        c = self._c
        c_new = c[t]
        scale = 1.0 / math.sqrt(d2_j)
        if t:
            np.dot(c[:t, j], c[:t], out=c_new)
            np.subtract(row, c_new, out=c_new)
            np.multiply(c_new, scale, out=c_new)
        else:
            np.multiply(row, scale, out=c_new)
        np.square(c_new, out=self._tmp)
        np.subtract(d2, self._tmp, out=d2)
        d2[j] = 0.0
        self._t = t + 1
        if self.window is not None:
            self._members.append(j)
            if len(self._members) > self.window:
                self._slide()
        return True

    def _slide(self) -> None:
        """Drop the oldest member from the factorisation (exact, O(w·N))."""
        members = self._members
        drop_oldest(self._c, self._t, np.asarray(members, dtype=np.int64), self.d2)
        members.pop(0)
        self._t -= 1


@njit(cache=True, nogil=True)
def drop_oldest(comps: FloatArray, t: int, members: npt.NDArray[np.int64], d2: FloatArray) -> None:
    """Remove the first of ``t`` members from the Cholesky rows by Givens rotations.

    With ``S_W = L·C`` (``L`` lower triangular, ``L[a, b] = C[b, member_a]``), the remaining
    members' rows of ``L`` have one entry above the diagonal each; rotating component rows
    (r, r + 1) zeroes it, so their ``L`` is triangular again and the last component row now
    belongs to no member: it is dropped, and every residual gets its square back. Compiled:
    w rotations of two N-rows instead of a w×w re-factorisation and a w×N solve per slide.
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


def dpp_select(
    quality: FloatArray,
    rows: SimilarityRows,
    k: int,
    theta: float,
    *,
    window: int | None = None,
    constraints: HomogeneityConstraints | None = None,
    explain: bool = False,
) -> GreedyResult:
    """Select ``k`` items maximising ``θ·Σ quality + (1 - θ)·log det S_Y`` greedily.

    ``θ = 1`` is pure quality order (ties to the lower index). Scores are the step objective
    ``θ·quality_j + (1 - θ)·log d_j²`` at selection; with ``explain`` its two parts are kept.
    """
    n = quality.shape[0]
    k = min(k, n)
    cons = constraints if constraints is not None else HomogeneityConstraints(n, k)
    dedup = cons.duplicate_threshold is not None
    trace = Trace(k, DPP_PARTS, explain)
    order = trace.order
    relevance_only = theta >= 1.0
    # Selection key a·quality + log d² is the objective divided by (1 - θ): same argmax.
    a = np.float32(theta / (1.0 - theta) if theta < 1 else 1.0)
    scaled = np.multiply(quality, a, dtype=np.float32)
    base = scaled + cons.penalty  # penalties folded in, refreshed when a cap is reached
    window_ = window if window is not None and window < k else None
    # Without a window the Cholesky update is inlined below (Algorithm 1 of the paper) on
    # plain arrays; the sliding window goes through ``IncrementalCholesky.add``.
    chol = IncrementalCholesky(n, k, window_) if window_ is not None else None
    if chol is not None:
        d2 = chol.d2
        comps = chol._c
    else:
        d2 = np.empty(n, dtype=np.float32)
        d2.fill(1.0)
        comps = np.empty((k, n), dtype=np.float32)  # row t is written before it is read
    tmp = np.empty(n, dtype=np.float32)
    eps = float(np.float32(DPP_EPS))
    members = 0
    log_gain = np.zeros(n, dtype=np.float32)
    gain_at_pick = np.zeros(k, dtype=np.float32)
    max_sim = np.zeros(n, dtype=np.float32) if dedup else None
    row = np.empty(n, dtype=np.float32)
    key = np.empty(n, dtype=np.float32)
    raw = np.empty(n, dtype=np.float32) if explain else None
    floor = np.empty(n, dtype=np.float32)  # an array: ufuncs take two arrays faster
    floor.fill(DPP_EPS)
    # the loop runs on locals: at a few microseconds a step, lookups count
    add, subtract, multiply, maximum, dot, log = (
        np.add,
        np.subtract,
        np.multiply,
        np.maximum,
        np.dot,
        np.log,
    )
    # plain cosine rows are computed here; any other kind (or a subclass) through ``row``
    embeddings = rows.embeddings if type(rows) is EmbeddingRows else None
    row_of = rows.row
    penalize = cons.penalize_duplicates
    cons_select = cons.select
    penalty = cons.penalty
    sqrt = math.sqrt
    last = k - 1
    for t in range(k):
        if relevance_only or t == 0:
            target = base
        else:
            add(base, log_gain, out=key)
            target = key
        if max_sim is not None and t:
            if target is base:
                np.copyto(key, base)
                target = key
            penalize(max_sim, key)
        j = int(target.argmax())
        order[t] = j
        gain_at_pick[t] = log_gain.item(j)
        if raw is not None:
            add(scaled, log_gain, out=raw)
            trace.pick(t, j, 0.0, raw, cons, max_sim if t else None)
        if t == last:
            break
        if cons_select(j):
            add(scaled, penalty, out=base)
        else:
            base[j] = -np.inf
        if relevance_only and max_sim is None:
            continue
        if embeddings is not None:
            dot(embeddings, embeddings[j], out=row)
        else:
            row_of(j, row)
        if max_sim is not None:
            maximum(max_sim, row, out=max_sim)
        if relevance_only:
            continue
        if chol is not None:
            chol.add(j, row)
        else:
            d2_j = d2.item(j)
            if d2_j <= eps:
                continue  # in the span of the page: leaves the factorisation unchanged
            c_new = comps[members]
            if members:
                dot(comps[:members, j], comps[:members], out=c_new)
                subtract(row, c_new, out=c_new)
                multiply(c_new, 1.0 / sqrt(d2_j), out=c_new)
            else:
                multiply(row, 1.0 / sqrt(d2_j), out=c_new)
            multiply(c_new, c_new, out=tmp)
            subtract(d2, tmp, out=d2)
            members += 1
        maximum(d2, floor, out=log_gain)
        log(log_gain, out=log_gain)
    # the objective at each pick: θ·quality + (1 - θ)·log d²
    quality_part = quality[order].astype(np.float32) * np.float32(theta)
    gain_part = gain_at_pick * np.float32(1.0 - theta)
    np.add(quality_part, gain_part, out=trace.scores)
    if trace.parts is not None:
        trace.parts[:, 0] = quality_part
        trace.parts[:, 1] = gain_part
    return trace.result()
