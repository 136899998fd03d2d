"""Learned fusion: one greedy selection over a weighted sum of every feature.

Each step scores every remaining candidate as ``features @ w(d)`` (``features.py`` for the
features, ``weights.py`` for ``w(d)``), adds the homogeneity constraint penalties
(``caps.py``) and takes the argmax. The feature matrix is updated in place after each pick,
so a step is one BLAS mat-vec for the new similarity row, a handful of vector updates and
one small gemv for the scores. Step features whose weight is 0 at this knob are not computed.
When the near-duplicate constraint and feature share a threshold, the constraint's penalty
tier is folded into that feature's weight, so it costs nothing per step.

With ``explain``, each pick keeps its feature values and contributions ``w_f·x_f``; the
contributions add up to the fused score reported for it.
"""

from __future__ import annotations

import numpy as np

from reranker.core.caps import TIER_DUPLICATE
from reranker.core.features import DUP, FEATURE_NAMES, STEP_FEATURES, SelectionState
from reranker.core.request import Request
from reranker.core.selection import GreedyResult, Trace
from reranker.core.types import FloatArray
from reranker.core.weights import FusionWeights

__all__ = ["fusion_select"]

_STEP_COLUMNS = tuple((name, FEATURE_NAMES.index(name)) for name in STEP_FEATURES)


def fusion_select(
    request: Request, weights: FusionWeights, *, static_only: bool = False
) -> tuple[GreedyResult, FloatArray | None]:
    """Greedy fused selection of ``request.k`` items.

    ``static_only`` keeps relevance and personalisation (the ``personalized`` strategy): the
    constraints still apply, the per-step diversity features do not. Returns the result and,
    with ``knobs.explain``, the (k, F) feature values of each pick.
    """
    d = float(request.knobs.diversity)
    w = weights.static_only(d) if static_only else weights.effective(d)
    weight_of = w.tolist()
    active = {name for name, f in _STEP_COLUMNS if weight_of[f] != 0.0}
    dup_limit = request.duplicate_threshold if request.candidates.embeddings is not None else None
    fold = (
        not static_only
        and dup_limit is not None
        and np.float32(dup_limit) == np.float32(request.knobs.duplicate_threshold)
    )
    if fold:
        active.add("near_duplicate")
    state = SelectionState(request, active=active)
    cons = state.constraints
    penalty = cons.penalty
    w_key = w
    dup_col = state.near_duplicate
    if fold:
        w_key = w.copy()
        w_key[DUP] -= TIER_DUPLICATE
    explain = request.knobs.explain
    k = request.k
    n = request.n
    trace = Trace(k, FEATURE_NAMES, explain)
    values = np.zeros((k, len(FEATURE_NAMES)), dtype=np.float32) if explain else None
    matrix = state.matrix
    fused = np.empty(n, dtype=np.float32)
    key = np.empty(n, dtype=np.float32)
    order, scores = trace.order, trace.scores
    select = state.select
    if not explain:
        # the hot loop: locals only, scalar reads through ``item`` (no numpy scalars)
        add, dot = np.add, np.dot
        dedup = not fold and cons.duplicate_threshold is not None
        penalize = cons.penalize_duplicates
        dup_tier = -float(TIER_DUPLICATE) / 2
        last = k - 1
        for t in range(k):
            dot(matrix, w_key, out=key)  # np.dot: same BLAS gemv as matmul, less dispatch
            add(key, penalty, out=key)
            max_sim = None if fold else state.max_similarity
            if dedup and max_sim is not None:
                penalize(max_sim, key)
            j = int(key.argmax())
            order[t] = j
            if penalty.item(j) != 0.0 or (
                dup_col.item(j) != 0.0 if fold else max_sim is not None and key.item(j) < dup_tier
            ):
                scores[t] = float(dot(matrix[j], w))
            else:
                scores[t] = key.item(j)
            if t < last:
                select(j)
        return trace.result(), values
    assert values is not None and trace.parts is not None
    for t in range(k):
        np.matmul(matrix, w_key, out=key)
        max_sim = None if fold else state.max_similarity
        cons.apply(key, max_sim, out=key)
        j = int(key.argmax())
        np.matmul(matrix, w, out=fused)
        trace.pick(t, j, float(fused[j]), fused, cons, state.max_similarity)
        values[t] = matrix[j]
        trace.parts[t] = matrix[j] * w
        if t + 1 < k:
            select(j)
    return trace.result(), values
