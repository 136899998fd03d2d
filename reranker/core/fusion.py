"""Learned fusion: one greedy selection over a weighted sum of every feature.

Each step scores every remaining candidate as ``features @ w(d)`` (``features.py`` for the
features, ``weights.py`` for ``w(d)``), adds the homogeneity constraint penalties
(``caps.py``) and takes the argmax. The feature matrix is updated in place after each pick;
the whole loop runs compiled (``fusion_kernel.greedy``), and step by step from Python only
for explanations, label similarity and the sliding-window DPP (same compiled step, same
numbers). Step features whose weight is 0 at this knob are not computed.
When the near-duplicate constraint and feature share a threshold, the constraint's penalty
tier is folded into that feature's weight, so it costs nothing per step.

With ``explain``, each pick keeps its feature values and contributions ``w_f·x_f``; the
contributions add up to the fused score reported for it.
"""

from __future__ import annotations

import numpy as np

from reranker.core.caps import TIER_DUPLICATE
from reranker.core.features import DUP, FEATURE_NAMES, STEP_FEATURES, SelectionState
from reranker.core.fusion_kernel import fused_scores, greedy
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
    w_key = w
    dup_col = state.near_duplicate
    if fold:
        w_key = w.copy()
        w_key[DUP] -= TIER_DUPLICATE
    explain = request.knobs.explain
    k = request.k
    n = request.n
    trace = Trace(k, FEATURE_NAMES, explain)
    key = np.empty(n, dtype=np.float32)
    if not explain and state.fast:
        dedup = cons.duplicate_threshold
        greedy(
            k,
            w_key,
            w,
            fold,
            -1.0 if fold or dedup is None else float(dedup),
            trace.order,
            trace.scores,
            key,
            state.row,
            state.kernel_state(),
        )
        return trace.result(), None
    # step by step from Python: explanations, label similarity, the sliding-window DPP
    values = np.zeros((k, len(FEATURE_NAMES)), dtype=np.float32) if explain else None
    matrix = state.matrix
    fused = np.empty(n, dtype=np.float32)
    dup_limit_score = -float(TIER_DUPLICATE) / 2
    for t in range(k):
        fused_scores(matrix, w_key, key)
        max_sim = None if fold else state.max_similarity
        cons.apply(key, max_sim, out=key)
        j = int(key.argmax())
        fused_scores(matrix, w, fused)
        if explain:
            assert values is not None and trace.parts is not None
            trace.pick(t, j, float(fused[j]), fused, cons, state.max_similarity)
            values[t] = matrix[j]
            trace.parts[t] = matrix[j] * w
        else:
            penalized = cons.penalty.item(j) != 0.0 or (
                dup_col.item(j) != 0.0
                if fold
                else max_sim is not None and key.item(j) < dup_limit_score
            )
            trace.pick(t, j, fused.item(j) if penalized else key.item(j), fused, cons, None)
        if t + 1 < k:
            state.select(j)
    return trace.result(), values
