"""The single entry point, ``rerank``, and the registry of strategies it dispatches to by name.

The sidecar, the evaluation harness and the trainer all call ``rerank``; a strategy is a
function ``(Request, FusionWeights) -> Ranking`` registered in ``STRATEGY_REGISTRY`` under a
name from ``reranker.contract.STRATEGIES`` (the wire names):

- ``engine``: the engine's order, untouched (the baseline);
- ``personalized``: relevance + personalisation features (fusion weights, static part),
  with the homogeneity constraints of the knob;
- ``mmr`` / ``dpp``: the classic diversifiers over quality = relevance (no user) or the
  personalised static score rescaled to [0, 1], with the homogeneity constraints;
- ``fusion``: every feature, weighted (``fusion.py``).

At ``diversity = 0`` with no user, personalized, mmr, dpp and fusion return the engine order
(relevance-only greedy selection with ties to the engine position; see ``normalize.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from reranker.contract import STRATEGIES
from reranker.core import knob
from reranker.core.dpp import dpp_select
from reranker.core.explain import explain_engine, explain_greedy
from reranker.core.features import FEATURE_NAMES, STATIC_FEATURES, static_features
from reranker.core.fusion import fusion_select
from reranker.core.mmr import mmr_select
from reranker.core.request import Request, prepare
from reranker.core.types import Candidates, FloatArray, Knobs, Ranking, UserProfile
from reranker.core.weights import DEFAULT_WEIGHTS, FusionWeights

__all__ = ["STRATEGY_REGISTRY", "Strategy", "quality", "rerank"]

Strategy = Callable[[Request, FusionWeights], Ranking]


def quality(request: Request, weights: FusionWeights) -> FloatArray:
    """What MMR and DPP treat as item quality: relevance, or the personalised static score.

    With a user, ``static_features @ w_static(d)`` min-max rescaled to [0, 1] (all equal: 1).
    """
    if request.user is None:
        return request.relevance
    w = weights.static_only(float(request.knobs.diversity))[: len(STATIC_FEATURES)]
    score = static_features(request) @ w
    lo, hi = float(score.min()), float(score.max())
    if hi <= lo:
        return np.ones(request.n, dtype=np.float32)
    out = (score - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    return out.astype(np.float32, copy=False)


def _engine(request: Request, weights: FusionWeights) -> Ranking:
    k = request.k
    return Ranking(
        order=np.arange(k, dtype=np.int32),
        scores=request.relevance[:k].copy(),
        explanations=explain_engine(request, "engine") if request.knobs.explain else None,
    )


def _fused(request: Request, weights: FusionWeights, strategy: str) -> Ranking:
    result, values = fusion_select(request, weights, static_only=strategy == "personalized")
    explanations = None
    if request.knobs.explain:
        explanations = explain_greedy(request, result, strategy, FEATURE_NAMES, values)
    return Ranking(result.order, result.scores, explanations)


def _personalized(request: Request, weights: FusionWeights) -> Ranking:
    return _fused(request, weights, "personalized")


def _fusion(request: Request, weights: FusionWeights) -> Ranking:
    return _fused(request, weights, "fusion")


def _mmr(request: Request, weights: FusionWeights) -> Ranking:
    knobs = request.knobs
    result = mmr_select(
        quality(request, weights),
        request.rows,
        request.k,
        knob.mmr_gamma(float(knobs.diversity)),
        constraints=request.constraints(),
        explain=knobs.explain,
    )
    explanations = explain_greedy(request, result, "mmr") if knobs.explain else None
    return Ranking(result.order, result.scores, explanations)


def _dpp(request: Request, weights: FusionWeights) -> Ranking:
    knobs = request.knobs
    result = dpp_select(
        quality(request, weights),
        request.rows,
        request.k,
        knob.dpp_theta(float(knobs.diversity)),
        window=knobs.dpp_window,
        constraints=request.constraints(),
        explain=knobs.explain,
    )
    explanations = explain_greedy(request, result, "dpp") if knobs.explain else None
    return Ranking(result.order, result.scores, explanations)


STRATEGY_REGISTRY: dict[str, Strategy] = {
    "engine": _engine,
    "personalized": _personalized,
    "mmr": _mmr,
    "dpp": _dpp,
    "fusion": _fusion,
}
assert tuple(STRATEGY_REGISTRY) == STRATEGIES


def rerank(
    candidates: Candidates,
    k: int,
    knobs: Knobs,
    user: UserProfile | None = None,
    weights: FusionWeights | None = None,
) -> Ranking:
    """Re-rank the engine's window into a page of ``min(k, len(candidates))`` items.

    Raises ``ValueError`` naming the field for an unknown strategy (listing the valid ones),
    knobs out of range, ``k < 1`` or inconsistent shapes and label codes.
    """
    strategy = STRATEGY_REGISTRY.get(knobs.strategy)
    if strategy is None:
        raise ValueError(
            f"knobs.strategy {knobs.strategy!r} is unknown; valid: {', '.join(STRATEGY_REGISTRY)}"
        )
    chosen = weights if weights is not None else DEFAULT_WEIGHTS
    if chosen.knob_curve and knobs.strategy == "fusion":  # fitted on the fusion's NDCG only
        knobs = replace(knobs, diversity=chosen.applied_diversity(knobs.diversity))
    request = prepare(candidates, k, knobs, user)
    return strategy(request, chosen)
