"""Maximal Marginal Relevance (Carbonell & Goldstein 1998, SIGIR).

Greedy: each step takes ``argmax_i (1 - γ)·quality_i - γ·max_{j ∈ S} sim(i, j)``. Only the row
of the item just selected is computed (one float32 mat-vec of N×d per step, k×N similarities
in all), and the running maximum is updated in place, so a page costs O(k·N·d) with no N×N
matrix and no per-candidate Python loop.

Parameter mapping to peers (identical selections, up to float ties):
- pyversity 0.2.0 ``mmr(embeddings, scores, k, diversity)`` is this with ``quality = scores``,
  ``γ = diversity`` and ``clip_negative=True`` (it clips cosine to [0, 1]);
- langchain-core ``maximal_marginal_relevance(query, embeddings, lambda_mult, k)`` is this with
  ``quality = cos(query, e_i)``, ``γ = 1 - lambda_mult`` and ``clip_negative=False``.
"""

from __future__ import annotations

import numpy as np

from reranker.core.caps import HomogeneityConstraints
from reranker.core.selection import GreedyResult, Trace
from reranker.core.similarity import EmbeddingRows, SimilarityRows
from reranker.core.types import FloatArray

__all__ = ["MMR_PARTS", "mmr_select"]

MMR_PARTS = ("quality", "redundancy")


def mmr_select(
    quality: FloatArray,
    rows: SimilarityRows,
    k: int,
    gamma: float,
    *,
    clip_negative: bool = True,
    constraints: HomogeneityConstraints | None = None,
    explain: bool = False,
) -> GreedyResult:
    """Select ``k`` of ``len(quality)`` items by MMR with redundancy weight ``gamma`` in [0, 1].

    ``clip_negative`` treats negative similarity as 0 (redundancy >= 0). The first pick is the
    best quality; ties go to the lower index (engine order). Scores are the MMR objective at
    the time of selection; with ``explain`` its two parts are kept per pick.
    """
    n = quality.shape[0]
    k = min(k, n)
    cons = constraints if constraints is not None else HomogeneityConstraints(n, k)
    dedup = cons.duplicate_threshold is not None
    trace = Trace(k, MMR_PARTS, explain)
    order = trace.order
    g = np.float32(gamma)
    g_row = np.empty(n, dtype=np.float32)  # an array: ufuncs take two arrays faster
    g_row.fill(g)
    weighted_quality = np.multiply(quality, np.float32(1.0 - gamma), dtype=np.float32)
    # base = weighted quality + constraint penalties (-inf once selected), refreshed only when
    # a cap is reached; otherwise a pick just sets its own entry to -inf.
    base = weighted_quality + cons.penalty
    max_sim = np.zeros(n, dtype=np.float32)
    sim_at_pick = np.zeros(k, dtype=np.float32)
    row = np.empty(n, dtype=np.float32)
    key = np.empty(n, dtype=np.float32)
    raw = np.empty(n, dtype=np.float32) if explain else None
    # the loop runs on locals: at a few microseconds a step, lookups count
    multiply, subtract, maximum, add, dot = np.multiply, np.subtract, np.maximum, np.add, np.dot
    # plain cosine rows are computed here; any other kind (or a subclass) through ``row``
    embeddings = rows.embeddings if type(rows) is EmbeddingRows else None
    row_of = rows.row
    penalize = cons.penalize_duplicates
    cons_select = cons.select
    penalty = cons.penalty
    last = k - 1
    for t in range(k):
        if t:
            multiply(max_sim, g_row, out=key)
            subtract(base, key, out=key)
            if dedup:
                penalize(max_sim, key)
            j = int(key.argmax())
            sim_at_pick[t] = max_sim.item(j)
        else:
            j = int(base.argmax())
        order[t] = j
        if raw is not None:
            multiply(max_sim, g, out=raw)
            subtract(weighted_quality, raw, out=raw)
            trace.pick(t, j, 0.0, raw, cons, max_sim if t else None)
        if t == last:
            break
        if embeddings is not None:
            dot(embeddings, embeddings[j], out=row)
        else:
            row_of(j, row)
        if t == 0 and not clip_negative:
            max_sim[:] = row
        else:
            maximum(max_sim, row, out=max_sim)
        if cons_select(j):
            add(weighted_quality, penalty, out=base)
        else:
            base[j] = -np.inf
    # the objective at each pick: (1 - γ)·quality - γ·max similarity to the page so far
    quality_part = weighted_quality[order]
    redundancy_part = sim_at_pick * -g
    np.add(quality_part, redundancy_part, out=trace.scores)
    if trace.parts is not None:
        trace.parts[:, 0] = quality_part
        trace.parts[:, 1] = redundancy_part
    return trace.result()
