"""A shopper's profile from their history: the one way the sidecar and the evaluation build it.

The most recent item vectors are the interests (several, not one centroid: a shopper of
drills and garden hoses is not interested in what lies between them), the centroid is the
normalised mean of all of them (the reference for over-personalisation), and category and
brand affinities are the history's label shares.

Item-level memory is kept too, because the best single predictor of what a shopper buys next
is often what they bought before (groceries, consumables): ``item_affinity`` saturates with
the decayed weight of an item's events, and ``repeat_rate`` says how often this shopper comes
back for an item at all, so the fusion can bring back the usual coffee for one household and
stay out of the way of a film lover who never watches a film twice. The same household may
rebuy its milk and try a new cheese every week, so the rate is also kept per category
(``category_repeat_rate``), shrunk toward the shopper's own rate where a category says little.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from reranker.core.types import FloatArray, UserProfile

__all__ = [
    "AFFINITY_SCALE",
    "CATEGORY_REPEAT_STRENGTH",
    "MAX_AFFINITY_ITEMS",
    "MAX_INTERESTS",
    "REPEAT_PRIOR",
    "affinity_of",
    "category_repeat_counts",
    "category_repeat_rates",
    "history_profile",
    "item_affinity",
    "repeat_rate",
    "shrunk_repeat_rate",
]

MAX_INTERESTS = 50
MAX_AFFINITY_ITEMS = 256  # bound per user: the strongest items, so a profile stays small
# four fresh purchases (weight 8 each, indexer.profiles.TYPE_WEIGHTS) reach 0.63: the weekly
# staple stays ahead of the jar bought once (at 8 both saturated, and the order among a
# household's usual items was lost: 0.630 against buy-again's 0.635 with history first)
AFFINITY_SCALE = 32.0
REPEAT_PRIOR = (0.25, 2.0)  # (mean, strength): a short history says little about repeating
# a category's own returns outweigh the shopper's overall habit after a few events: a
# household that tried a new cheese 6 weeks running is an explorer there (rate 0.04, where
# strength 2 kept 0.11 and the old cheeses rose), however often it rebuys its milk
CATEGORY_REPEAT_STRENGTH = 0.5


def item_affinity(
    item_ids: Sequence[str],
    weights: Sequence[float] | None = None,
    limit: int = MAX_AFFINITY_ITEMS,
) -> dict[str, float]:
    """Per item ``1 - exp(-w / AFFINITY_SCALE)``, w the sum of its events' weights.

    ``weights``: one per event (type weight times recency decay; 1 each when None). Saturating,
    so one fresh purchase gives 0.63 and the tenth adds little: a staple bought every week and
    a jar bought twice both come back, the staple first. Keeps the ``limit`` strongest items.
    """
    if weights is not None and len(weights) != len(item_ids):
        raise ValueError(f"{len(weights)} weights for {len(item_ids)} history items")
    total: dict[str, float] = {}
    for i, item in enumerate(item_ids):
        w = 1.0 if weights is None else float(weights[i])
        total[item] = total.get(item, 0.0) + w
    return affinity_of(total, limit)


def affinity_of(weights: Mapping[str, float], limit: int = MAX_AFFINITY_ITEMS) -> dict[str, float]:
    """Summed per-item weights (e.g. a stored profile's ``item_weights``) to affinities."""
    usable = [(k, w) for k, w in weights.items() if w > 0 and math.isfinite(w)]
    strongest = sorted(usable, key=lambda kv: (-kv[1], kv[0]))[:limit]
    return {item: 1.0 - math.exp(-w / AFFINITY_SCALE) for item, w in strongest}


def repeat_rate(item_ids: Sequence[str]) -> float:
    """Share of a history's events (after the first) that return to an item seen before,
    shrunk toward ``REPEAT_PRIOR``: 0.25 for an empty history, near 0 for a film lover's 100
    distinct films, near the truth for a long grocery history."""
    seen: set[str] = set()
    repeats = 0
    for item in item_ids:
        repeats += item in seen
        seen.add(item)
    return shrunk_repeat_rate(repeats, max(len(item_ids) - 1, 0))


def shrunk_repeat_rate(repeats: int, chances: int) -> float:
    """``repeats`` returns in ``chances`` events (all but the first), shrunk to the prior."""
    mean, strength = REPEAT_PRIOR
    return (min(repeats, chances) + mean * strength) / (max(chances, 0) + strength)


def category_repeat_counts(
    item_ids: Sequence[str], categories: Sequence[str | None]
) -> dict[str, tuple[int, int]]:
    """Per category (repeats, chances): its events after the first that return to an item
    seen before. ``categories``: one per event (None = unknown, not counted)."""
    if len(categories) != len(item_ids):
        raise ValueError(f"{len(categories)} categories for {len(item_ids)} history items")
    seen: set[str] = set()
    counts: dict[str, list[int]] = {}
    for item, category in zip(item_ids, categories, strict=True):
        if category is not None:
            tally = counts.get(category)
            if tally is None:
                counts[category] = [0, 0]
            else:
                tally[0] += item in seen
                tally[1] += 1
        seen.add(item)
    return {c: (r, n) for c, (r, n) in counts.items()}


def category_repeat_rates(
    counts: Mapping[str, tuple[int, int]], user_rate: float
) -> dict[str, float]:
    """Per category repeat rate, shrunk toward ``user_rate`` with ``CATEGORY_REPEAT_STRENGTH``:
    one chance moves it a third of the way, a weekly category takes its own.
    Only categories with at least one chance are kept (the rest read the user's rate)."""
    strength = CATEGORY_REPEAT_STRENGTH
    return {
        c: (min(r, n) + user_rate * strength) / (n + strength)
        for c, (r, n) in counts.items()
        if n > 0
    }


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
    item_ids: Sequence[str] = (),
    item_weights: Sequence[float] | None = None,
    item_categories: Sequence[str | None] | None = None,
) -> UserProfile | None:
    """The profile of a history; None when it has neither a usable vector nor a label.

    ``vectors``: (m, d) history item vectors, oldest first (any length; all-zero rows are
    ignored). ``*_weights``: how much of the history each label accounts for (counts, or
    fractions for items with several labels), turned into shares that sum to 1.
    ``item_ids``: the history's events as item ids, oldest first (an item once per event),
    with ``item_weights`` one per event (see ``item_affinity``): the item-level memory;
    ``item_categories``: one per event, for the per-category repeat rates.
    """
    unit = _unit_rows(np.asarray(vectors, dtype=np.float32))
    unit = unit[np.linalg.norm(unit, axis=1) > 0]
    categories = _shares(category_weights)
    brands = _shares(brand_weights)
    m = unit.shape[0]
    if not m and not categories and not brands and not item_ids:
        return None
    interests = np.ascontiguousarray(unit[-max_interests:])
    rate = repeat_rate(item_ids) if len(item_ids) else 0.0
    per_category = (
        category_repeat_rates(category_repeat_counts(item_ids, item_categories), rate)
        if item_categories is not None and len(item_ids)
        else {}
    )
    return UserProfile(
        interests=interests,
        interest_weights=np.full(interests.shape[0], 1.0 / max(interests.shape[0], 1), np.float32),
        centroid=_unit_rows(unit.mean(axis=0)) if m else None,
        category_affinity=categories,
        brand_affinity=brands,
        item_affinity=item_affinity(item_ids, item_weights),
        repeat_rate=rate,
        category_repeat_rate=per_category,
    )
