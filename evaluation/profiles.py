"""A user profile in the core's terms from the training part of a history (offline).

Mirrors what the sidecar does with an inline history: the most recent item vectors are the
interests (several, not one centroid), the centroid is the normalised mean of all of them,
and category/brand affinities are the history's label shares (a two-genre film counts 1/2 to
each genre). Labels are keyed exactly as the item table names them, so the core's lookups
match.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt

from evaluation.episodes import ItemTable
from reranker.core.types import UserProfile

__all__ = ["MAX_INTERESTS", "profile_from_history"]

MAX_INTERESTS = 50


def profile_from_history(history: npt.NDArray[np.integer], table: ItemTable) -> UserProfile | None:
    """None for an empty history (no personalization, as for an unknown user)."""
    rows = np.asarray(history)
    if rows.size == 0:
        return None
    vectors = table.embeddings[rows].astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    vectors = vectors[norms > 0] / norms[norms > 0, None]
    if vectors.shape[0] == 0:
        return None
    interests = np.ascontiguousarray(vectors[-MAX_INTERESTS:])
    mean = vectors.mean(axis=0)
    centroid = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
    mix = table.category_rows(rows).sum(axis=0)
    categories = {table.category_names[c]: float(mix[c] / mix.sum()) for c in np.flatnonzero(mix)}
    brand_counts = Counter(int(b) for b in table.brand[rows] if b >= 0)
    total = sum(brand_counts.values())
    brands = {table.brand_names[b]: n / total for b, n in brand_counts.items()}
    return UserProfile(
        interests=interests,
        interest_weights=np.full(interests.shape[0], 1.0 / interests.shape[0], np.float32),
        centroid=centroid,
        category_affinity=categories,
        brand_affinity=brands,
    )
