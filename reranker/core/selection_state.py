"""Every fusion feature of every candidate, kept current while a page is selected.

``SelectionState`` lays out, once per request, the arrays the compiled step works on
(``fusion_kernel.KernelState``): the feature matrix, the constraint state, one table for the
five label lookups, the calibration state and the Cholesky factorisation. ``select(j)``
moves one candidate onto the page from Python (explanations, training rollouts); the fusion's
fast loop runs the same compiled step natively.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from reranker.core.calibration import CalibrationState
from reranker.core.cholesky import DPP_EPS
from reranker.core.features import (
    COLUMN,
    DPP_GAIN_FLOOR,
    FEATURE_NAMES,
    LABEL_FEATURES,
    SIMILARITY_FEATURES,
    STATIC_FEATURES,
    STEP_FEATURES,
    static_features,
)
from reranker.core.fusion_kernel import KernelState, make_params, select
from reranker.core.request import Request
from reranker.core.similarity import EmbeddingRows, LabelRows
from reranker.core.types import FloatArray

__all__ = ["SelectionState"]

_ALL_STEPS = frozenset(STEP_FEATURES)
_GAIN_FLOOR = np.float32(np.exp(-DPP_GAIN_FLOOR))
_NO_MIX: Mapping[str, float] = {}
_NO_FLOATS = np.zeros(0, dtype=np.float32)
_NO_CODES = np.zeros(0, dtype=np.int32)
_NO_MEMBERS = np.zeros(0, dtype=np.int64)
_NO_EMBEDDINGS = np.zeros((0, 0), dtype=np.float32)
_NO_CAL_VEC = np.zeros((4, 0), dtype=np.float64)
_NO_CAL_SCALARS = np.zeros(6, dtype=np.float64)
_FIRST_LABEL = COLUMN[LABEL_FEATURES[0]]


class SelectionState:
    """All features of every candidate, kept current while a page is selected.

    ``matrix`` is (n, len(FEATURE_NAMES)), Fortran-ordered so each feature column is
    contiguous and is updated in place. ``active`` limits the per-step work to the step
    features that matter (zero-weight ones stay 0); by default all are computed.
    """

    def __init__(self, request: Request, active: Collection[str] | None = None) -> None:
        self.request = request
        n = request.n
        c = request.candidates
        on = _ALL_STEPS if active is None else active
        matrix = np.zeros((len(FEATURE_NAMES), n), dtype=np.float32).T
        self.matrix = matrix
        static_features(request, out=matrix[:, : len(STATIC_FEATURES)])
        thr = request.knobs.duplicate_threshold
        dup_threshold = np.float32(thr) if "near_duplicate" in on and thr < 1.0 else None
        user = request.user
        mix = user.category_affinity if user is not None else _NO_MIX
        calibrate = (
            "calibration" in on and c.categories is not None and any(v > 0 for v in mix.values())
        )
        novel = "brand_novelty" in on or "category_novelty" in on
        # one table for the label lookups:
        # [brand pressure | category pressure | calibration | brand novelty | category novelty]
        nb, nc = len(c.brand_names) + 1, len(c.category_names) + 1
        tracked = CalibrationState.tracked(c.category_names, mix) if calibrate else []
        ncal = len(tracked) + 2 if calibrate else 1
        o1, o2 = nb, nb + nc
        o3 = o2 + ncal
        o4 = o3 + nb
        table = np.zeros(o4 + nc, dtype=np.float32)
        # rows 0 and 1 are the constraints' label slots: the pressure part of the table is
        # laid out like their counts
        slots = np.empty((5, n), dtype=np.intp)
        self.constraints = cons = request.constraints(slots=slots[:2])
        calibration = None
        if calibrate:
            assert c.categories is not None
            calibration = CalibrationState(
                c.categories, c.category_names, mix, table=table[o2:o3], tracked=tracked
            )
            np.add(calibration.slots, o2, out=slots[2])
        else:
            slots[2] = o2
        np.add(cons.slots[0], o3, out=slots[3])
        np.add(cons.slots[1], o4 - o1, out=slots[4])
        if calibrate:  # the only label column not 0 before the first pick
            # the label columns are adjacent: one contiguous block of 5n floats (a view)
            last = _FIRST_LABEL + len(LABEL_FEATURES)
            table.take(slots.reshape(-1), out=matrix[:, _FIRST_LABEL:last].T.reshape(-1))
        track = bool(
            not SIMILARITY_FEATURES.isdisjoint(on) or cons.duplicate_threshold is not None
        )
        self._track = track
        rows = request.rows
        label_rows = isinstance(rows, LabelRows)
        if isinstance(rows, LabelRows):
            embeddings, brands, categories = _NO_EMBEDDINGS, rows.brands, rows.categories
        elif isinstance(rows, EmbeddingRows):
            embeddings, brands, categories = rows.embeddings, _NO_CODES, _NO_CODES
        else:
            raise TypeError(f"the fusion computes cosine or label rows, not {type(rows).__name__}")
        dpp = "dpp_gain" in on
        window = request.knobs.dpp_window
        window = window if dpp and window is not None and window < request.k else 0
        params = make_params(
            size=0,
            members=0,
            track=track,
            label_rows=label_rows,
            similarity_sum="similarity_sum" in on,
            near_duplicate=dup_threshold is not None,
            dpp=dpp,
            window=window,
            calibration=calibrate,
            gather="brand_pressure" in on or "category_pressure" in on or calibrate or novel,
            novelty=novel,
            o1=o1,
            o2=o2,
            o3=o3,
            o4=o4,
            brand_cap=cons.brand_cap or 0,
            category_cap=cons.category_cap or 0,
            brand_free=cons.brand_free,
            category_free=cons.category_free,
            col_redundancy=COLUMN["redundancy"],
            col_similarity_sum=COLUMN["similarity_sum"],
            col_dpp=COLUMN["dpp_gain"],
            col_near_duplicate=COLUMN["near_duplicate"],
            col_labels=_FIRST_LABEL,
            duplicate_threshold=dup_threshold if dup_threshold is not None else 1.0,
            gain_floor=_GAIN_FLOOR,
            dpp_eps=DPP_EPS,
            # pressure = count / cap, or / page size without a cap
            brand_scale=1.0 / (cons.brand_cap or max(request.page_size, 1)),
            category_scale=1.0 / (cons.category_cap or max(request.page_size, 1)),
        )
        self.params = params
        self.table = table
        self.state = KernelState(
            embeddings=embeddings,
            label_brands=brands,
            label_categories=categories,
            matrix=matrix,
            penalty=cons.penalty,
            table=table,
            slots=slots,
            counts=cons.counts,
            floor=cons.floor,
            cal_vec=calibration.vec if calibration is not None else _NO_CAL_VEC,
            cal_scalars=calibration.scalars if calibration is not None else _NO_CAL_SCALARS,
            d2=np.ones(n, dtype=np.float32) if dpp else _NO_FLOATS,
            comps=np.empty((request.k, n), dtype=np.float32) if dpp else _NO_EMBEDDINGS,
            members=np.zeros(request.k, dtype=np.int64) if window else _NO_MEMBERS,
            row=np.empty(n, dtype=np.float32),  # written before it is read
            params=params,
        )

    @property
    def size(self) -> int:
        """Items on the page so far."""
        return int(self.params[0]["size"])

    def select(self, j: int) -> None:
        """Put candidate ``j`` on the page and update every feature."""
        select(j, *self.state)

    @property
    def max_similarity(self) -> FloatArray | None:
        """Running ``max(0, max sim to selected)`` (the redundancy column), if tracked."""
        return self.matrix[:, COLUMN["redundancy"]] if self._track and self.size else None

    @property
    def near_duplicate(self) -> FloatArray:
        """The near-duplicate column (0/1)."""
        return self.matrix[:, COLUMN["near_duplicate"]]
