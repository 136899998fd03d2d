"""A user profile in the core's terms from the training part of a history (offline).

Built by the same function as the sidecar's inline history (``reranker.core.profile``);
category shares count a two-genre film 1/2 to each genre, and labels are keyed exactly as the
item table names them, so the core's lookups match.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt

from evaluation.episodes import ItemTable
from reranker.core.profile import history_profile
from reranker.core.types import UserProfile

__all__ = ["profile_from_history"]


def profile_from_history(
    history: npt.NDArray[np.integer],
    table: ItemTable,
    weights: npt.NDArray[np.floating] | None = None,
) -> UserProfile | None:
    """None for an empty history or one without vectors (no personalization, as for an
    unknown user). ``weights``: one per history entry (event type and recency), for the
    item-level memory; None counts every entry once."""
    rows = np.asarray(history)
    if rows.size == 0:
        return None
    mix = table.category_rows(rows).sum(axis=0)
    categories = {table.category_names[c]: float(mix[c]) for c in np.flatnonzero(mix)}
    brands = Counter(table.brand_names[int(b)] for b in table.brand[rows] if b >= 0)
    ids = [str(table.ids[r]) for r in rows]
    item_weights = None if weights is None else [float(w) for w in weights]
    names = table.category_names
    item_categories = [names[c] if c >= 0 else None for c in table.category[rows]]
    profile = history_profile(
        table.embeddings[rows], categories, brands,
        item_ids=ids, item_weights=item_weights, item_categories=item_categories,
    )  # fmt: skip
    return profile if profile is not None and profile.interests.shape[0] else None
