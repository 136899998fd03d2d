"""One re-ranking request, checked and prepared once for whichever strategy runs.

The sidecar validates HTTP payloads; this module still checks what the ranking code relies on
(shapes, label codes, knob ranges) so that evaluation and training, which build ``Candidates``
themselves, get a ``ValueError`` naming the field rather than a wrong page. Embeddings are
taken as given: L2-normalised and finite (the sidecar and indexer guarantee it; checking
500×384 floats per request would cost more than the ranking).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from reranker.contract import STRATEGIES
from reranker.core import knob
from reranker.core.caps import HomogeneityConstraints
from reranker.core.normalize import normalize_learned, normalize_scores
from reranker.core.similarity import EmbeddingRows, LabelRows, SimilarityRows
from reranker.core.types import Candidates, FloatArray, IntArray, Knobs, UserProfile

__all__ = ["Request", "engine_brands", "prepare", "validate_knobs"]


def validate_knobs(knobs: Knobs) -> None:
    """Raise ``ValueError`` naming the first knob out of range."""
    d = knobs.diversity
    if not (isinstance(d, int | float) and math.isfinite(d) and 0.0 <= d <= 1.0):
        raise ValueError(f"knobs.diversity must be a number in [0, 1], got {d!r}")
    if knobs.strategy not in STRATEGIES:
        raise ValueError(
            f"knobs.strategy {knobs.strategy!r} is unknown; valid: {', '.join(STRATEGIES)}"
        )
    for name in ("max_per_brand", "max_per_category", "dpp_window", "page_size"):
        value = getattr(knobs, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"knobs.{name} must be a positive integer or None, got {value!r}")
    thr = knobs.duplicate_threshold
    if not (isinstance(thr, int | float) and math.isfinite(thr) and thr > 0.0):
        raise ValueError(f"knobs.duplicate_threshold must be a number > 0, got {thr!r}")


def _check_codes(
    name: str, codes: IntArray | None, vocabulary: Sequence[str], n: int, names_field: str
) -> None:
    if codes is None:
        return
    if codes.shape != (n,):
        raise ValueError(f"candidates.{name} has shape {codes.shape}, expected ({n},)")
    if n and (int(codes.min()) < -1 or int(codes.max()) >= len(vocabulary)):
        raise ValueError(
            f"candidates.{name} codes must lie in [-1, {len(vocabulary) - 1}] "
            f"(-1 = unknown, else an index into candidates.{names_field})"
        )


def _check(candidates: Candidates, k: int, user: UserProfile | None) -> None:
    n = len(candidates.ids)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if candidates.scores.shape != (n,):
        raise ValueError(f"candidates.scores has shape {candidates.scores.shape}, expected ({n},)")
    learned = candidates.relevance
    if learned is not None and learned.shape != (n,):
        raise ValueError(f"candidates.relevance has shape {learned.shape}, expected ({n},)")
    prior = candidates.popularity
    if prior is not None and prior.shape != (n,):
        raise ValueError(f"candidates.popularity has shape {prior.shape}, expected ({n},)")
    emb = candidates.embeddings
    if emb is not None and (emb.ndim != 2 or emb.shape[0] != n):
        raise ValueError(f"candidates.embeddings has shape {emb.shape}, expected ({n}, dim)")
    _check_codes(
        "categories", candidates.categories, candidates.category_names, n, "category_names"
    )
    _check_codes("brands", candidates.brands, candidates.brand_names, n, "brand_names")
    if user is None:
        return
    interests = user.interests
    if interests.ndim != 2:
        raise ValueError(f"user.interests has shape {interests.shape}, expected (m, dim)")
    if user.interest_weights.shape != (interests.shape[0],):
        raise ValueError(
            f"user.interest_weights has shape {user.interest_weights.shape}, "
            f"expected ({interests.shape[0]},) like user.interests"
        )
    if emb is not None and interests.shape[0] and interests.shape[1] != emb.shape[1]:
        raise ValueError(
            f"user.interests have dimension {interests.shape[1]} but candidate "
            f"embeddings have {emb.shape[1]}"
        )
    if emb is not None and user.centroid is not None and user.centroid.shape != (emb.shape[1],):
        raise ValueError(
            f"user.centroid has shape {user.centroid.shape}, expected ({emb.shape[1]},)"
        )


def _codes_for(names: frozenset[str], vocabulary: Sequence[str]) -> frozenset[int]:
    if not names:
        return frozenset()
    wanted = {name.casefold() for name in names}
    return frozenset(i for i, name in enumerate(vocabulary) if name.casefold() in wanted)


@dataclass
class Request:
    """A validated request: relevance, similarity rows and constraint settings, computed once."""

    candidates: Candidates
    k: int  # clamped to the number of candidates
    page_size: int  # what caps and label pressure count against: knobs.page_size, at most k
    knobs: Knobs
    user: UserProfile | None
    relevance: FloatArray
    exempt_brands: frozenset[int]
    exempt_categories: frozenset[int]
    brand_cap: int | None
    category_cap: int | None
    duplicate_threshold: float | None  # effective (ramped by diversity); None = off
    brand_floor: int = 0  # brands page 1 must show (``caps.floor_pick``); 0 = none
    _rows: SimilarityRows | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.candidates.ids)

    @property
    def rows(self) -> SimilarityRows:
        """Cosine rows from embeddings, or label-similarity rows when there are none."""
        if self._rows is None:
            c = self.candidates
            if c.embeddings is not None:
                self._rows = EmbeddingRows(c.embeddings)
            else:
                self._rows = LabelRows(
                    self.n, c.brands, c.categories, self.exempt_brands, self.exempt_categories
                )
        return self._rows

    def constraints(self, slots: npt.NDArray[np.intp] | None = None) -> HomogeneityConstraints:
        """A fresh constraint state for one greedy run (``slots``: see HomogeneityConstraints)."""
        c = self.candidates
        # near-duplicates need vectors: same brand and category is not "the same item".
        dup = self.duplicate_threshold if c.embeddings is not None else None
        return HomogeneityConstraints(
            self.n,
            self.k,
            brands=c.brands,
            categories=c.categories,
            n_brands=len(c.brand_names),
            n_categories=len(c.category_names),
            brand_cap=self.brand_cap,
            category_cap=self.category_cap,
            exempt_brands=self.exempt_brands,
            exempt_categories=self.exempt_categories,
            duplicate_threshold=dup,
            brand_floor=self.brand_floor,
            floor_span=self.page_size,
            slots=slots,
        )


def engine_brands(candidates: Candidates, page: int, exempt: frozenset[int]) -> int:
    """Distinct known brands on the engine's own first ``page`` hits (by engine score).

    The brand floor's target: a page that knows the shopper should not show fewer brands
    than the one that does not. 0 when the query names a brand (the shopper asked for it).
    """
    if candidates.brands is None or exempt:
        return 0
    top = np.argsort(-candidates.scores, kind="stable")[:page]
    codes = candidates.brands[top]
    return len(np.unique(codes[codes >= 0]))


def prepare(
    candidates: Candidates, k: int, knobs: Knobs, user: UserProfile | None = None
) -> Request:
    """Validate the request and compute what every strategy shares."""
    validate_knobs(knobs)
    _check(candidates, k, user)
    n = len(candidates.ids)
    page = min(int(k), n)
    unit = page if knobs.page_size is None else min(int(knobs.page_size), page)
    d = float(knobs.diversity)
    exempt_brands = _codes_for(knobs.query_brands, candidates.brand_names)
    return Request(
        candidates=candidates,
        k=page,
        page_size=unit,
        knobs=knobs,
        user=user,
        relevance=normalize_scores(candidates.scores)
        if candidates.relevance is None
        else normalize_learned(candidates.relevance),
        exempt_brands=exempt_brands,
        exempt_categories=_codes_for(knobs.query_categories, candidates.category_names),
        brand_cap=knob.brand_cap(d, unit, knobs.max_per_brand)
        if candidates.brands is not None
        else None,
        category_cap=knob.category_cap(d, unit, knobs.max_per_category)
        if candidates.categories is not None
        else None,
        duplicate_threshold=knob.duplicate_threshold(d, knobs.duplicate_threshold),
        brand_floor=0 if user is None else engine_brands(candidates, unit, exempt_brands),
    )
