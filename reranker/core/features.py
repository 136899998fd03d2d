"""The fusion features: what the greedy selection weighs, and what the trainer learns weights for.

Every value is float32, computed by the same code at serving, evaluation and training time.
Names are the contract with saved weights (matched by name, never by position).

Static, per candidate (``STATIC_FEATURES``):

- ``relevance``: engine score normalised per request to [0, 1] (``normalize.py``); missing 0.
- ``interest_sim``: weighted soft-max over the user's interest vectors of the cosine,
  τ = 0.1 (``personalization.interest_similarity``); 0 without a user or embeddings.
- ``category_affinity`` / ``brand_affinity``: the user's history share of the candidate's
  category / brand, in [0, 1]; 0 when unknown or without a user.
- ``centroid_sim``: cosine to the user's history centroid; 0 without one.
- ``centroid_excess``: ``max(0, centroid_sim - mean over the window)``: closeness to the
  user's past beyond the typical hit, the over-personalisation signal (weight < 0).

Per step, given the already selected set S (``STEP_FEATURES``), all 0 while S is empty except
``calibration``:

- ``redundancy``: ``max(0, max_{j ∈ S} sim(i, j))``, the MMR redundancy.
- ``similarity_sum``: ``Σ_{j ∈ S} sim(i, j)``, the max-sum-of-distances (MSD) redundancy:
  it grows with the page, so a fixed weight lets the top slots stay relevant and spreads the
  lower ones (the sum of distances is ``|S| - similarity_sum``, the same argmax).
- ``dpp_gain``: ``max(log d_i², -8)`` in [-8, 0], with ``d_i²`` the DPP conditional
  variance of i given S (or its last ``knobs.dpp_window`` items) under the similarity kernel
  (``dpp.IncrementalCholesky``): 0 = brings a brand-new direction, -8 = in S's span.
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

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import numpy.typing as npt

from reranker.core.calibration import CalibrationState
from reranker.core.dpp import IncrementalCholesky
from reranker.core.personalization import (
    centroid_excess,
    centroid_similarity,
    interest_similarity,
    label_affinity,
)
from reranker.core.request import Request, prepare
from reranker.core.types import Candidates, FloatArray, Knobs, UserProfile

__all__ = [
    "DPP_GAIN_FLOOR",
    "FEATURE_NAMES",
    "LABEL_FEATURES",
    "STATIC_FEATURES",
    "STEP_FEATURES",
    "Rollout",
    "SelectionState",
    "rollout_features",
    "static_features",
]

BoolArray = npt.NDArray[np.bool_]

STATIC_FEATURES = (
    "relevance",
    "interest_sim",
    "category_affinity",
    "brand_affinity",
    "centroid_sim",
    "centroid_excess",
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
_GAIN_FLOOR = np.float32(np.exp(-DPP_GAIN_FLOOR))

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
RED, SIM_SUM, DPP, DUP, BRAND_P, CAT_P, CAL, BRAND_NEW, CAT_NEW = (
    _COL[name] for name in STEP_FEATURES
)
LABEL_FEATURES = STEP_FEATURES[STEP_FEATURES.index("brand_pressure") :]


def static_features(request: Request, out: FloatArray | None = None) -> FloatArray:
    """The (n, len(STATIC_FEATURES)) static block, columns in ``STATIC_FEATURES`` order.

    ``out``: a zeroed (n, len(STATIC_FEATURES)) block to fill (e.g. a view of a larger matrix).
    """
    n = request.n
    if out is None:
        out = np.zeros((len(STATIC_FEATURES), n), dtype=np.float32).T
    out[:, 0] = request.relevance
    user = request.user
    if user is None:
        return out
    c = request.candidates
    emb = c.embeddings
    if emb is not None and user.interests.shape[0]:
        out[:, 1] = interest_similarity(emb, user)
    out[:, 2] = label_affinity(c.categories, c.category_names, user.category_affinity, n)
    out[:, 3] = label_affinity(c.brands, c.brand_names, user.brand_affinity, n)
    if emb is not None and user.centroid is not None:
        sim = centroid_similarity(emb, user.centroid)
        out[:, 4] = sim
        out[:, 5] = centroid_excess(sim)
    return out


class SelectionState:
    """All features of every candidate, kept current while a page is selected.

    ``matrix`` is (n, len(FEATURE_NAMES)), Fortran-ordered so each feature column is
    contiguous and is updated in place; ``select(j)`` moves one candidate onto the page.
    ``active`` limits the per-step work to the step features that matter (zero-weight ones
    stay 0); by default all are computed. The last five columns (brand and category
    pressure, calibration, brand and category novelty) are all lookups by label, so they are
    refreshed by one gather from one table.
    """

    def __init__(self, request: Request, active: Collection[str] | None = None) -> None:
        self.request = request
        n = request.n
        c = request.candidates
        on = set(STEP_FEATURES) if active is None else set(active)
        self.matrix = np.zeros((len(FEATURE_NAMES), n), dtype=np.float32).T
        static_features(request, out=self.matrix[:, : len(STATIC_FEATURES)])
        m = self.matrix
        self._red, self._dup, self._dpp = m[:, RED], m[:, DUP], m[:, DPP]
        self._sum = m[:, SIM_SUM] if "similarity_sum" in on else None
        self._rows = request.rows
        thr = request.knobs.duplicate_threshold
        self.dup_threshold = np.float32(thr) if "near_duplicate" in on and thr < 1.0 else None
        self._chol = (
            IncrementalCholesky(n, request.k, request.knobs.dpp_window)
            if "dpp_gain" in on
            else None
        )
        # one table for the label lookups:
        # [brand pressure | category pressure | calibration | brand novelty | category novelty]
        user = request.user
        mix = user.category_affinity if user is not None else {}
        calibrate = (
            "calibration" in on and c.categories is not None and any(v > 0 for v in mix.values())
        )
        novel = bool({"brand_novelty", "category_novelty"} & on)
        nb, nc = len(c.brand_names) + 1, len(c.category_names) + 1
        ncal = CalibrationState.n_slots(c.category_names, mix) if calibrate else 1
        offsets = list(accumulate((0, nb, nc, ncal, nb, nc)))  # plain ints: no numpy call
        self._table = np.zeros(offsets[-1], dtype=np.float32)
        views = [self._table[offsets[i] : offsets[i + 1]] for i in range(5)]
        self.constraints = request.constraints(
            brand_pressure=views[0],
            category_pressure=views[1],
            brand_novelty=views[3] if novel else None,
            category_novelty=views[4] if novel else None,
        )
        self._calibration = None
        if calibrate:
            assert c.categories is not None
            self._calibration = CalibrationState(
                c.categories, c.category_names, mix, table=views[2]
            )
            cal_slots = self._calibration.slots
        else:
            cal_slots = np.zeros(n, dtype=np.intp)
        self._gather = bool({"brand_pressure", "category_pressure"} & on) or calibrate or novel
        brand, category = self.constraints.brand, self.constraints.category
        assert brand is not None and category is not None
        self._slots = np.concatenate(
            (
                brand.slots,
                category.slots + offsets[1],
                cal_slots + offsets[2],
                brand.slots + offsets[3],
                category.slots + offsets[4],
            )
        )
        # the label columns are adjacent: one contiguous block of 5n floats
        self._label_block = self.matrix[:, BRAND_P : CAT_NEW + 1].T.reshape(-1)  # a view
        if calibrate:
            self._table.take(self._slots, out=self._label_block, mode="clip")
        self._row = np.empty(n, dtype=np.float32)
        self._track_similarity = bool(
            {"redundancy", "similarity_sum", "near_duplicate", "dpp_gain"} & on
            or self.constraints.duplicate_threshold is not None
        )
        self.size = 0

    @property
    def max_similarity(self) -> FloatArray | None:
        """Running ``max(0, max sim to selected)`` (the redundancy column), if tracked."""
        return self._red if self._track_similarity and self.size else None

    @property
    def near_duplicate(self) -> FloatArray:
        """The near-duplicate column (0/1)."""
        return self._dup

    def select(self, j: int) -> None:
        """Put candidate ``j`` on the page and update every step feature."""
        self.constraints.select(j)
        if self._track_similarity:
            row = self._rows.row(j, self._row)
            red = self._red
            np.maximum(red, row, out=red)
            if self._sum is not None:
                np.add(self._sum, row, out=self._sum)
            if self.dup_threshold is not None:
                np.greater(red, self.dup_threshold, out=self._dup)
            chol = self._chol
            if chol is not None:
                chol.add(j, row)
                gain = self._dpp
                np.maximum(chol.d2, _GAIN_FLOOR, out=gain)
                np.log(gain, out=gain)
        if self._calibration is not None:
            self._calibration.add(j)
        if self._gather:
            # the method skips np.take's Python dispatch; slots are in range, so "clip" only
            # skips the bounds check
            self._table.take(self._slots, out=self._label_block, mode="clip")
        self.size += 1


@dataclass(frozen=True)
class Rollout:
    """Features before each pick of a given page: what a listwise trainer consumes.

    ``features[t]`` is the (n, F) matrix seen at step t, ``available[t]`` marks candidates not
    yet on the page, ``order[t]`` is the pick made at step t.
    """

    features: FloatArray  # (T, n, F)
    available: BoolArray  # (T, n)
    order: Sequence[int]
    feature_names: tuple[str, ...] = FEATURE_NAMES


def rollout_features(
    candidates: Candidates,
    order: Sequence[int],
    knobs: Knobs,
    user: UserProfile | None = None,
) -> Rollout:
    """Replay ``order`` (e.g. a logged page or a greedy result) and record every step's features.

    ``knobs`` matter for caps (pressure denominators), the duplicate threshold and the DPP
    window; the features do not depend on the fusion weights.
    """
    request = prepare(candidates, max(len(order), 1), knobs, user)
    n = request.n
    if len(set(order)) != len(order) or any(not 0 <= int(j) < n for j in order):
        raise ValueError(f"order must list distinct candidate indices in [0, {n})")
    state = SelectionState(request)
    steps = len(order)
    features = np.empty((steps, n, len(FEATURE_NAMES)), dtype=np.float32)
    available = np.ones((steps, n), dtype=bool)
    for t, j in enumerate(order):
        features[t] = state.matrix
        if t:
            available[t] = available[t - 1]
            available[t, order[t - 1]] = False
        state.select(int(j))
    return Rollout(features, available, list(order))
