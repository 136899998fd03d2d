"""Per-item explanations: why each returned item is where it is.

One dict per returned item (JSON-ready: str, int, float, list, dict, None only):

- ``id``, ``rank`` (0-based position on the page), ``engine_rank`` (position in the engine's
  window), ``strategy``, ``score`` (the strategy's objective when the item was picked);
- ``contributions``: ``{term: value}``; the values add up to ``score``. Fusion terms are
  the feature names (``w_f·x_f``), MMR has ``quality``/``redundancy``, DPP ``quality``/
  ``dpp_gain`` (θ·quality and (1 - θ)·log d²), the engine strategy ``relevance``;
- ``features``: raw feature values (fusion and personalized only);
- ``relaxed``: constraints this pick broke because nothing left satisfied them, in the
  relaxation order of ``caps.RELAXATION_ORDER``;
- ``held_back``: the higher-scoring candidate a cap or near-duplicate rule kept off this
  slot (``id``, ``engine_rank``, ``score``, ``reasons``), or None;
- ``limits``: the caps, the brand floor and the near-duplicate threshold in force for the
  request.
"""

from __future__ import annotations

import math
from typing import Any

from reranker.core.request import Request
from reranker.core.selection import GreedyResult
from reranker.core.types import FloatArray

__all__ = ["explain_engine", "explain_greedy"]


def _limits(request: Request) -> dict[str, Any]:
    thr = request.duplicate_threshold if request.candidates.embeddings is not None else None
    return {
        "max_per_brand": request.brand_cap,
        "max_per_category": request.category_cap,
        "min_brands": request.brand_floor or None,
        "duplicate_threshold": None if thr is None else round(float(thr), 6),
    }


def explain_engine(request: Request, strategy: str) -> list[dict[str, Any]]:
    """Explanations for the unchanged engine order."""
    ids = request.candidates.ids
    limits = _limits(request)
    return [
        {
            "id": ids[j],
            "rank": j,
            "engine_rank": j,
            "strategy": strategy,
            "score": float(request.relevance[j]),
            "contributions": {"relevance": float(request.relevance[j])},
            "relaxed": [],
            "held_back": None,
            "limits": limits,
        }
        for j in range(request.k)
    ]


def _name_learned(item: dict[str, Any], engine_score: float) -> None:
    """The relevance term came from the learned model: say so, and keep the engine's score."""
    parts = item["contributions"]
    if "relevance" in parts:
        item["contributions"] = {
            ("learned_relevance" if name == "relevance" else name): v for name, v in parts.items()
        }
    features = item.setdefault("features", {})
    if "relevance" in features:
        features["learned_relevance"] = features.pop("relevance")
    if not math.isnan(engine_score):  # a missing engine score is left out
        features["engine_score"] = engine_score


def explain_greedy(
    request: Request,
    result: GreedyResult,
    strategy: str,
    feature_names: tuple[str, ...] = (),
    feature_values: FloatArray | None = None,
) -> list[dict[str, Any]]:
    """Explanations from a greedy result traced with ``explain``."""
    ids = request.candidates.ids
    limits = _limits(request)
    out: list[dict[str, Any]] = []
    for t, j in enumerate(result.order.tolist()):
        item: dict[str, Any] = {
            "id": ids[j],
            "rank": t,
            "engine_rank": j,
            "strategy": strategy,
            "score": float(result.scores[t]),
            "contributions": {},
            "relaxed": [],
            "held_back": None,
            "limits": limits,
        }
        if result.parts is not None:
            item["contributions"] = {
                name: float(v) for name, v in zip(result.part_names, result.parts[t], strict=True)
            }
        if feature_values is not None:
            item["features"] = {
                name: float(v) for name, v in zip(feature_names, feature_values[t], strict=True)
            }
        if request.candidates.relevance is not None:
            _name_learned(item, float(request.candidates.scores[j]))
        if result.relaxed is not None:
            item["relaxed"] = list(result.relaxed[t])
        if result.displaced is not None and result.displaced[t] is not None:
            held = result.displaced[t]
            assert held is not None
            item["held_back"] = {
                "id": ids[held.index],
                "engine_rank": held.index,
                "score": held.score,
                "reasons": list(held.reasons),
            }
        out.append(item)
    return out
