"""The fusion features: what the greedy selection weighs, and what the trainer learns weights for.

Every value is float32, computed by the same code at serving, evaluation and training time.
Names are the contract with saved weights (matched by name, never by position).

Static, per candidate (``STATIC_FEATURES``):

- ``relevance``: engine score normalised per request to [0, 1] (``normalize.py``); missing 0.
- ``interest_sim``: weighted soft-max over the user's interest vectors of the cosine,
  τ = 0.1 (``personalization.user_similarities``); 0 without a user or embeddings.
- ``category_affinity`` / ``brand_affinity``: the user's history share of the candidate's
  category / brand, in [0, 1]; 0 when unknown or without a user.
- ``centroid_sim``: cosine to the user's history centroid; 0 without one.
- ``centroid_excess``: ``max(0, centroid_sim - mean over the window)``: closeness to the
  user's past beyond the typical hit, the over-personalisation signal (weight < 0).
- ``repeat_affinity``: the user's ``item_affinity`` of this very item, gated by their repeat
  rate r in its category (``category_repeat_rate``, else ``repeat_rate``): 0 below
  r = 0.03, the full affinity from r = 0.10 (``REPEAT_RAMP``), linear between. A shopper who
  comes back to an old item one time in ten already buys each old item far more often than
  any one of the shelf's new ones, so the rate decides *whether* the memory counts and the
  affinity *how much* (``profile.py``).
- ``seen_by_explorer``: ``max(0, 1 - r / 0.10)`` (``EXPLORER_RATE``) for an item the user
  already had, else 0: what an explorer has seen is not news (weight < 0), while a household
  that rebuys even now and then is no explorer. Together the two learn "repeat or explore",
  per shopper and per category.
- ``popularity``: the item prior, ``log1p(popularity / median positive popularity of the
  window)`` divided by its window maximum, in [0, 1]; 0 without one. What most shoppers take
  is what a new shopper is likely to take: the strongest single predictor in replayed logs.

Per step, given the already selected set S (``STEP_FEATURES``), all 0 while S is empty except
``calibration``:

- ``redundancy``: ``max(0, max_{j ∈ S} sim(i, j))``, the MMR redundancy.
- ``similarity_sum``: ``Σ_{j ∈ S} sim(i, j)``, the max-sum-of-distances (MSD) redundancy:
  it grows with the page, so a fixed weight lets the top slots stay relevant and spreads the
  lower ones (the sum of distances is ``|S| - similarity_sum``, the same argmax).
- ``dpp_gain``: ``max(log d_i², -8)`` in [-8, 0], with ``d_i²`` the DPP conditional
  variance of i given S (or its last ``knobs.dpp_window`` items) under the similarity kernel
  (``cholesky.py``): 0 = brings a brand-new direction, -8 = in S's span.
- ``near_duplicate``: 1 if ``max_{j ∈ S} sim(i, j) > knobs.duplicate_threshold`` else 0.
- ``brand_pressure`` / ``category_pressure``: items of i's brand / category already in S,
  divided by that cap (or by k when there is no cap); 0 for unknown labels and for labels the
  query names.
- ``calibration``: ``KL(p||q̃_S) - KL(p||q̃_{S ∪ {i}})`` (Steck 2018, α = 0.01): > 0 when adding
  i moves the list's category mix toward the user's; 0 without a user mix.
- ``brand_novelty`` / ``category_novelty``: 1 if i's brand / category is known and not yet on
  the page (what coverage@k counts), else 0; 0 for labels the query names.

Similarity is cosine of embeddings, or label similarity when the request has none.
"""

from __future__ import annotations

import numpy as np

from reranker.core.personalization import (
    INTEREST_TEMPERATURE,
    label_affinity,
    user_similarities,
)
from reranker.core.request import Request
from reranker.core.types import FloatArray

__all__ = [
    "COLUMN",
    "DPP_GAIN_FLOOR",
    "EXPLORER_RATE",
    "FEATURE_NAMES",
    "LABEL_FEATURES",
    "REPEAT_RAMP",
    "SIMILARITY_FEATURES",
    "STATIC_FEATURES",
    "STEP_FEATURES",
    "item_memory",
    "prior_feature",
    "repeat_rates",
    "static_features",
]

# chosen on the validation users of three replays together (a simulated grocery log, a shop
# whose households rebuy on some shelves and explore on others, MovieLens as search): the
# rates where the item memory switches on and where a seen item stops sinking
REPEAT_RAMP = (0.03, 0.10)
EXPLORER_RATE = 0.10

STATIC_FEATURES = (
    "relevance",
    "interest_sim",
    "category_affinity",
    "brand_affinity",
    "centroid_sim",
    "centroid_excess",
    "repeat_affinity",
    "seen_by_explorer",
    "popularity",
)
STEP_FEATURES = (
    "redundancy",
    "similarity_sum",
    "dpp_gain",
    "near_duplicate",
    "brand_pressure",
    "category_pressure",
    "calibration",
    "brand_novelty",
    "category_novelty",
)
FEATURE_NAMES = STATIC_FEATURES + STEP_FEATURES
DPP_GAIN_FLOOR = 8.0
COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}  # feature name -> matrix column
# the label lookups, in this order and adjacent: one gather from one table refreshes them
LABEL_FEATURES = STEP_FEATURES[STEP_FEATURES.index("brand_pressure") :]
SIMILARITY_FEATURES = frozenset({"redundancy", "similarity_sum", "near_duplicate", "dpp_gain"})
_NO_FLOATS = np.zeros(0, dtype=np.float32)


def static_features(request: Request, out: FloatArray | None = None) -> FloatArray:
    """The (n, len(STATIC_FEATURES)) static block, columns in ``STATIC_FEATURES`` order.

    ``out``: a zeroed (n, len(STATIC_FEATURES)) block to fill (e.g. a view of a larger matrix).
    """
    n = request.n
    if out is None:
        out = np.zeros((len(STATIC_FEATURES), n), dtype=np.float32).T
    out[:, 0] = request.relevance
    prior = request.candidates.popularity
    if prior is not None:
        prior_feature(prior, out[:, 8])
    user = request.user
    if user is None:
        return out
    c = request.candidates
    emb = c.embeddings
    # each helper writes straight into its column (contiguous: the block is Fortran-ordered)
    if emb is not None and (user.interests.shape[0] or user.centroid is not None):
        user_similarities(
            request.rows.embeddings,  # type: ignore[attr-defined]
            np.ascontiguousarray(user.interests, dtype=np.float32),
            np.ascontiguousarray(user.interest_weights, dtype=np.float32),
            _NO_FLOATS if user.centroid is None else user.centroid.astype(np.float32),
            INTEREST_TEMPERATURE,
            out[:, 1],
            out[:, 4],
            out[:, 5],
        )
    label_affinity(c.categories, c.category_names, user.category_affinity, n, out=out[:, 2])
    label_affinity(c.brands, c.brand_names, user.brand_affinity, n, out=out[:, 3])
    if user.item_affinity:
        rates = repeat_rates(request, user.repeat_rate, user.category_repeat_rate)
        item_memory(c.ids, user.item_affinity, rates, out[:, 6], out[:, 7])
    return out


def repeat_rates(request: Request, rate: float, per_category: dict[str, float]) -> FloatArray:
    """Each candidate's repeat rate: its category's, else the shopper's own."""
    c = request.candidates
    offsets = {name: r - rate for name, r in per_category.items()}
    out = label_affinity(c.categories, c.category_names, offsets, request.n)
    out += np.float32(rate)
    return out


def prior_feature(popularity: FloatArray, out: FloatArray) -> None:
    """``popularity`` in [0, 1] per window: log-scaled against the window's median positive
    value (so the scale of the counts does not matter), then divided by the window's maximum."""
    pop = np.nan_to_num(np.asarray(popularity, dtype=np.float32), nan=0.0)
    positive = pop[pop > 0]
    if positive.size == 0:
        return
    x = np.log1p(np.maximum(pop, 0.0) / np.float32(np.median(positive)))
    out[:] = x / x.max()


def item_memory(
    ids: list[str],
    affinity: dict[str, float],
    rates: FloatArray,
    repeat_out: FloatArray,
    seen_out: FloatArray,
) -> None:
    """``repeat_affinity`` and ``seen_by_explorer`` of each candidate, written in place
    (``rates``: each candidate's repeat rate, ``repeat_rates``)."""
    low, high = REPEAT_RAMP
    for i, item in enumerate(ids):
        a = affinity.get(item)
        if a is not None:
            rate = float(rates[i])
            repeat_out[i] = a * min(max((rate - low) / (high - low), 0.0), 1.0)
            seen_out[i] = max(1.0 - rate / EXPLORER_RATE, 0.0)
