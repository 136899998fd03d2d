"""A shopper's profile from their history: the one way the sidecar and the evaluation build it.

The most recent item vectors are the interests (several, not one centroid: a shopper of
drills and garden hoses is not interested in what lies between them), the centroid is the
normalised mean of all of them (the reference for over-personalisation), and category and
brand affinities are the history's label shares.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from reranker.core.types import FloatArray, UserProfile

__all__ = ["MAX_INTERESTS", "history_profile"]

MAX_INTERESTS = 50


def _unit_rows(matrix: FloatArray) -> FloatArray:
    """Rows scaled to length 1; an all-zero row stays zero."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _shares(weights: Mapping[str, float]) -> dict[str, float]:
    positive = {label: w for label, w in weights.items() if w > 0}
    total = sum(positive.values())
    return {label: w / total for label, w in positive.items()} if total > 0 else {}


def history_profile(
    vectors: FloatArray,
    category_weights: Mapping[str, float],
    brand_weights: Mapping[str, float],
    max_interests: int = MAX_INTERESTS,
) -> UserProfile | None:
    """The profile of a history; None when it has neither a usable vector nor a label.

    ``vectors``: (m, d) history item vectors, oldest first (any length; all-zero rows are
    ignored). ``*_weights``: how much of the history each label accounts for (counts, or
    fractions for items with several labels), turned into shares that sum to 1.
    """
    unit = _unit_rows(np.asarray(vectors, dtype=np.float32))
    unit = unit[np.linalg.norm(unit, axis=1) > 0]
    categories = _shares(category_weights)
    brands = _shares(brand_weights)
    m = unit.shape[0]
    if not m and not categories and not brands:
        return None
    interests = np.ascontiguousarray(unit[-max_interests:])
    return UserProfile(
        interests=interests,
        interest_weights=np.full(interests.shape[0], 1.0 / max(interests.shape[0], 1), np.float32),
        centroid=_unit_rows(unit.mean(axis=0)) if m else None,
        category_affinity=categories,
        brand_affinity=brands,
    )
