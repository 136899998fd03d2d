"""Learned fusion: one greedy selection over a weighted sum of every feature.

Each step scores every remaining candidate as ``features @ w(d)`` (``features.py`` for the
features, ``weights.py`` for ``w(d)``), adds the homogeneity constraint penalties
(``caps.py``) and takes the argmax; the feature matrix is then updated in place. The whole
loop runs compiled (``fusion_kernel.greedy``); with explanations the same compiled step runs
one pick at a time so each pick's features can be recorded. Step features whose weight is 0
at this knob are not computed. When the near-duplicate constraint and feature share a
threshold, the constraint's penalty tier is folded into that feature's weight, so it costs
nothing per step.

With ``explain``, each pick keeps its feature values and contributions ``w_f·x_f``; the
contributions add up to the fused score reported for it.
"""

from __future__ import annotations

import numpy as np

from reranker.core.caps import TIER_DUPLICATE
from reranker.core.features import COLUMN, FEATURE_NAMES, STEP_FEATURES
from reranker.core.fusion_kernel import explained_step, greedy
from reranker.core.request import Request
from reranker.core.selection import GreedyResult, Trace
from reranker.core.selection_state import SelectionState
from reranker.core.types import FloatArray
from reranker.core.weights import FusionWeights

__all__ = ["fusion_select"]

_STEP_COLUMNS = tuple((name, COLUMN[name]) for name in STEP_FEATURES)
_DUP = COLUMN["near_duplicate"]


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
    if fold:
        w_key = w.copy()
        w_key[_DUP] -= TIER_DUPLICATE
    dedup = -1.0 if fold or cons.duplicate_threshold is None else float(cons.duplicate_threshold)
    explain = request.knobs.explain
    k = request.k
    trace = Trace(k, FEATURE_NAMES, explain)
    key = np.empty(request.n, dtype=np.float32)
    kernel = state.state
    if not explain:
        greedy(k, w_key, w, fold, dedup, trace.order, trace.scores, key, *kernel)
        return trace.result(), None
    values = np.zeros((k, len(FEATURE_NAMES)), dtype=np.float32)
    assert trace.parts is not None
    matrix = state.matrix
    fused = np.empty(request.n, dtype=np.float32)
    j = -1
    for t in range(k):
        j, score = explained_step(j, w_key, w, fold, dedup, key, fused, *kernel)
        trace.pick(t, j, float(score), fused, cons, state.max_similarity)
        values[t] = matrix[j]
        trace.parts[t] = matrix[j] * w
    return trace.result(), values
