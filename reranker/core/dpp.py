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
count for diversity, for long pages where an item need not differ from one 40 rows above
(``cholesky.py`` keeps the factorisation).

Mapping to pyversity 0.2.0 ``dpp(embeddings, scores, k, diversity, scale)``: it uses
``q_i = exp(β·z_i)`` with ``z`` the z-scored scores and ``β = (1 - diversity)·scale``; that is
this selection with ``quality = z`` and ``θ/(1 - θ) = 2β``.
"""

from __future__ import annotations

import numpy as np

from reranker.core.caps import HomogeneityConstraints
from reranker.core.cholesky import DPP_EPS, IncrementalCholesky
from reranker.core.selection import GreedyResult, Trace
from reranker.core.similarity import EmbeddingRows, SimilarityRows
from reranker.core.types import FloatArray

__all__ = ["DPP_PARTS", "dpp_select"]

DPP_PARTS = ("quality", "dpp_gain")


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
    chol = IncrementalCholesky(n, k, window)
    d2 = chol.d2
    add_member = chol.add
    log_gain = np.zeros(n, dtype=np.float32)
    gain_at_pick = np.zeros(k, dtype=np.float32)
    max_sim = np.zeros(n, dtype=np.float32) if dedup else None
    row = np.empty(n, dtype=np.float32)
    key = np.empty(n, dtype=np.float32)
    raw = np.empty(n, dtype=np.float32) if explain else None
    floor = np.empty(n, dtype=np.float32)  # an array: ufuncs take two arrays faster
    floor.fill(DPP_EPS)
    # the loop runs on locals: at a few microseconds a step, lookups count
    add, maximum, dot, log = np.add, np.maximum, np.dot, np.log
    # plain cosine rows are computed here; any other kind (or a subclass) through ``row``
    embeddings = rows.embeddings if type(rows) is EmbeddingRows else None
    row_of = rows.row
    penalize = cons.penalize_duplicates
    cons_select = cons.select
    penalty = cons.penalty
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
        if relevance_only or not add_member(j, row):
            continue  # a member in the page's span leaves the residuals unchanged
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
