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

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reranker.core.calibration import CalibrationState
from reranker.core.dpp import DPP_EPS, IncrementalCholesky
from reranker.core.fusion_kernel import IP_SIZE, KernelState, advance, similarity_row
from reranker.core.personalization import (
    INTEREST_TEMPERATURE,
    label_affinity,
    user_similarities,
)
from reranker.core.request import Request, prepare
from reranker.core.similarity import EmbeddingRows
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
_DPP_EPS = float(np.float32(DPP_EPS))  # IncrementalCholesky's threshold, as a Python float

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
RED, SIM_SUM, DPP, DUP, BRAND_P, CAT_P, CAL, BRAND_NEW, CAT_NEW = (
    _COL[name] for name in STEP_FEATURES
)
LABEL_FEATURES = STEP_FEATURES[STEP_FEATURES.index("brand_pressure") :]
_ALL_STEPS = frozenset(STEP_FEATURES)
_SIMILARITY = frozenset({"redundancy", "similarity_sum", "near_duplicate", "dpp_gain"})
_NO_MIX: Mapping[str, float] = {}
_NO_FLOATS = np.zeros(0, dtype=np.float32)
_NO_COMPS = np.zeros((0, 0), dtype=np.float32)
_NO_CAL_VEC = np.zeros((4, 0), dtype=np.float64)
_NO_CAL_SCALARS = np.zeros(6, dtype=np.float64)


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
    return out


class SelectionState:
    """All features of every candidate, kept current while a page is selected.

    ``matrix`` is (n, len(FEATURE_NAMES)), Fortran-ordered so each feature column is
    contiguous and is updated in place; ``select(j)`` moves one candidate onto the page.
    ``active`` limits the per-step work to the step features that matter (zero-weight ones
    stay 0); by default all are computed. The last five columns (brand and category
    pressure, calibration, brand and category novelty) are all lookups by label, so they are
    refreshed by one gather from one table.

    The step itself is compiled (``fusion_kernel.advance``); this class builds its state
    arrays once per request, and ``fusion.py`` hands them to the compiled greedy loop.
    """

    def __init__(self, request: Request, active: Collection[str] | None = None) -> None:
        self.request = request
        n = request.n
        c = request.candidates
        on = _ALL_STEPS if active is None else active
        matrix = np.zeros((len(FEATURE_NAMES), n), dtype=np.float32).T
        self.matrix = matrix
        static_features(request, out=matrix[:, : len(STATIC_FEATURES)])
        self._red = matrix[:, RED]
        self._dup = matrix[:, DUP]
        thr = request.knobs.duplicate_threshold
        self.dup_threshold = np.float32(thr) if "near_duplicate" in on and thr < 1.0 else None
        user = request.user
        mix = user.category_affinity if user is not None else _NO_MIX
        calibrate = (
            "calibration" in on and c.categories is not None and any(v > 0 for v in mix.values())
        )
        novel = "brand_novelty" in on or "category_novelty" in on
        gather = "brand_pressure" in on or "category_pressure" in on or calibrate or novel
        # one table for the label lookups:
        # [brand pressure | category pressure | calibration | brand novelty | category novelty]
        nb, nc = len(c.brand_names) + 1, len(c.category_names) + 1
        tracked = CalibrationState.tracked(c.category_names, mix) if calibrate else []
        ncal = len(tracked) + 2 if calibrate else 1
        o1, o2 = nb, nb + nc
        o3 = o2 + ncal
        o4 = o3 + nb
        table = np.zeros(o4 + nc, dtype=np.float32)
        self.constraints = cons = request.constraints(
            brand_pressure=table[:o1],
            category_pressure=table[o1:o2],
            brand_novelty=table[o3:o4] if novel else None,
            category_novelty=table[o4:] if novel else None,
        )
        brand, category = cons.brand, cons.category
        assert brand is not None and category is not None
        slots = np.empty((5, n), dtype=np.intp)
        slots[0] = brand.slots
        np.add(category.slots, o1, out=slots[1])
        calibration = None
        if calibrate:
            assert c.categories is not None
            calibration = CalibrationState(
                c.categories, c.category_names, mix, table=table[o2:o3], tracked=tracked
            )
            np.add(calibration.slots, o2, out=slots[2])
        else:
            slots[2] = o2
        np.add(brand.slots, o3, out=slots[3])
        np.add(category.slots, o4, out=slots[4])
        if calibrate:  # the only label column not 0 before the first pick
            # the label columns are adjacent: one contiguous block of 5n floats (a view)
            table.take(slots.reshape(-1), out=matrix[:, BRAND_P : CAT_NEW + 1].T.reshape(-1))
        track = bool(not _SIMILARITY.isdisjoint(on) or cons.duplicate_threshold is not None)
        self._track_similarity = track
        rows = request.rows
        # plain cosine rows are computed by the kernel; any other kind through ``row``
        self.embeddings = (
            rows.embeddings if type(rows) is EmbeddingRows else np.zeros((0, 0), np.float32)
        )
        self._row_of = None if type(rows) is EmbeddingRows else rows.row
        self.row = np.zeros(n, dtype=np.float32)
        window = request.knobs.dpp_window
        self._chol: IncrementalCholesky | None = None
        dpp = 0
        self.d2 = _NO_FLOATS
        self.comps = _NO_COMPS
        if "dpp_gain" in on and window is not None and window < request.k:
            self._chol = IncrementalCholesky(n, request.k, window)
            self.d2 = self._chol.d2
            dpp = 2
        elif "dpp_gain" in on:
            self.d2 = np.ones(n, dtype=np.float32)
            self.comps = np.empty((request.k, n), dtype=np.float32)
            dpp = 1
        self.ip = np.array(
            [
                0,  # size
                0,  # members
                track,
                "similarity_sum" in on,
                self.dup_threshold is not None,
                dpp,
                calibrate,
                gather,
                novel,
                o1,
                o2,
                o3,
                o4,
                brand.cap or 0,
                category.cap or 0,
                brand.free,
                category.free,
                RED,
                SIM_SUM,
                DPP,
                DUP,
                BRAND_P,
            ],
            dtype=np.int64,
        )
        self.fp = np.array(
            [
                self.dup_threshold if self.dup_threshold is not None else 1.0,
                _GAIN_FLOOR,
                _DPP_EPS,
                brand.scale,
                category.scale,
            ],
            dtype=np.float32,
        )
        self.table = table
        self.slots = slots
        self._calibration = calibration
        self.cal_vec = calibration.vec if calibration is not None else _NO_CAL_VEC
        self.cal_scalars = calibration.scalars if calibration is not None else _NO_CAL_SCALARS

    @property
    def size(self) -> int:
        """Items on the page so far."""
        return int(self.ip[IP_SIZE])

    def kernel_state(self) -> KernelState:
        """The arrays the compiled step works on, in ``fusion_kernel.advance``'s order."""
        cons = self.constraints
        assert cons.brand is not None and cons.category is not None
        return (
            self.embeddings,
            self.matrix,
            self.ip,
            self.fp,
            cons.penalty,
            self.table,
            self.slots,
            cons.brand.counts,
            cons.category.counts,
            self.cal_vec,
            self.cal_scalars,
            self.d2,
            self.comps,
        )

    @property
    def fast(self) -> bool:
        """True when the compiled greedy loop can run the whole page (cosine rows, no window)."""
        return self._row_of is None and self._chol is None

    def select(self, j: int) -> None:
        """Put candidate ``j`` on the page and update every feature."""
        row = self.row
        compute = self._track_similarity
        if compute and self._row_of is not None:
            self._row_of(j, row)
            compute = False
        if compute and self._chol is not None:
            similarity_row(self.embeddings, j, row)
            compute = False
        if self._chol is not None:
            self._chol.add(j, row)
        advance(j, row, compute, self.kernel_state())

    @property
    def max_similarity(self) -> FloatArray | None:
        """Running ``max(0, max sim to selected)`` (the redundancy column), if tracked."""
        return self._red if self._track_similarity and self.size else None

    @property
    def near_duplicate(self) -> FloatArray:
        """The near-duplicate column (0/1)."""
        return self._dup


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
