"""Homogeneity constraints applied *during* greedy selection: brand/category caps, near-duplicates.

A post-filter would leave the page short; here every step picks the best candidate that
breaks no constraint. When every remaining candidate breaks one, the step relaxes them in this
order (``RELAXATION_ORDER``) and the explanation records it:

1. the category cap (categories are coarse: a third drill on a "drills" query is fine),
2. the brand cap,
3. near-duplicate suppression (the last thing a shopper wants is the same item twice).

It is done with tiered penalties added to the step's scores: a candidate breaking the
category cap loses 100, the brand cap 1 000, a near-duplicate 10 000 (fused scores stay far
below 100). The argmax then takes the best candidate of the mildest tier, which is exactly
"relax in order", in one vectorised step, and the page is never short. Brands and categories
the query names (explicit intent) are exempt from caps and from cap pressure.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import numpy.typing as npt

from reranker.core.types import FloatArray, IntArray

__all__ = [
    "RELAXATION_ORDER",
    "TIER_BRAND",
    "TIER_CATEGORY",
    "TIER_DUPLICATE",
    "HomogeneityConstraints",
]

RELAXATION_ORDER = ("category_cap", "brand_cap", "near_duplicate")
TIER_CATEGORY = np.float32(100.0)
TIER_BRAND = np.float32(1000.0)
TIER_DUPLICATE = np.float32(10000.0)
_NEG_INF = float("-inf")


class _LabelCap:
    """Counts of one label (brand or category) on the page, and its cap."""

    def __init__(
        self,
        codes: IntArray | None,
        vocabulary: int,
        n: int,
        cap: int | None,
        page: int,
        exempt: Collection[int],
        pressure: FloatArray | None = None,
        novelty: FloatArray | None = None,
    ) -> None:
        free = vocabulary  # slot for unknown or exempt labels: never counted
        if codes is None:
            slots = np.full(n, free, dtype=np.intp)
        else:
            # codes lie in [-1, vocabulary): -1 wraps onto the free slot
            slots = np.remainder(codes, vocabulary + 1, dtype=np.intp)
            for code in exempt:
                slots[slots == code] = free
        self.slots = slots
        self.free = free
        self.cap = cap
        # items on the page per slot (an array, so the compiled fusion step can update it)
        self.counts = np.zeros(vocabulary + 1, dtype=np.int64)
        # pressure = count / cap (or / page size without a cap); the free slot stays 0. The
        # pressure and novelty tables are kept up to date by the fusion's compiled step
        # (``fusion_kernel.advance``), their only reader; ``select`` here leaves them alone.
        self.scale = np.float32(1.0 / (cap if cap is not None else max(page, 1)))
        if pressure is None:
            pressure = np.zeros(vocabulary + 1, np.float32)
        else:
            pressure.fill(0.0)
        self.pressure = pressure
        # novelty = 1 for a known label not yet on the page (0 while the page is empty, so the
        # first pick stays the most relevant); the free slot stays 0.
        self.novelty = novelty
        if novelty is not None:
            novelty.fill(0.0)

    def full(self, j: int) -> bool:
        slot = self.slots.item(j)
        return self.cap is not None and slot != self.free and self.counts.item(slot) >= self.cap


class HomogeneityConstraints:
    """Per-request constraint state; ``apply`` adds penalties to a step's scores in place."""

    def __init__(
        self,
        n: int,
        k: int,
        *,
        brands: IntArray | None = None,
        categories: IntArray | None = None,
        n_brands: int = 0,
        n_categories: int = 0,
        brand_cap: int | None = None,
        category_cap: int | None = None,
        exempt_brands: Collection[int] = (),
        exempt_categories: Collection[int] = (),
        duplicate_threshold: float | None = None,
        brand_pressure: FloatArray | None = None,
        category_pressure: FloatArray | None = None,
        brand_novelty: FloatArray | None = None,
        category_novelty: FloatArray | None = None,
    ) -> None:
        """``*_pressure`` / ``*_novelty``: optional buffers of ``n_* + 1`` floats to keep the
        pressure and novelty tables in (a caller gathering several label tables at once passes
        views of one array)."""
        self.n = n
        # label counts are only needed for caps or for the pressure features
        self._count = (
            brand_cap is not None
            or category_cap is not None
            or brand_pressure is not None
            or category_pressure is not None
            or brand_novelty is not None
            or category_novelty is not None
        )
        self.brand: _LabelCap | None = None
        self.category: _LabelCap | None = None
        if self._count:
            self.brand = _LabelCap(
                brands, n_brands, n, brand_cap, k, exempt_brands, brand_pressure, brand_novelty
            )
            self.category = _LabelCap(
                categories,
                n_categories,
                n,
                category_cap,
                k,
                exempt_categories,
                category_pressure,
                category_novelty,
            )
        self.duplicate_threshold = (
            None if duplicate_threshold is None else np.float32(duplicate_threshold)
        )
        self.penalty = np.zeros(n, dtype=np.float32)  # cap tiers; -inf once selected
        self._mask = np.empty(n, dtype=bool)
        self._labels = (
            None
            if self.brand is None or self.category is None
            else ((self.brand, TIER_BRAND), (self.category, TIER_CATEGORY))
        )

    def apply(self, scores: FloatArray, max_similarity: FloatArray | None, out: FloatArray) -> None:
        """``out = scores + penalties`` (selected: -inf; cap tiers; near-duplicate tier when
        ``max_similarity`` is given)."""
        np.add(scores, self.penalty, out=out)
        if self.duplicate_threshold is not None and max_similarity is not None:
            self.penalize_duplicates(max_similarity, out)

    @property
    def selected(self) -> npt.NDArray[np.bool_]:
        """Candidates already on the page."""
        return np.isneginf(self.penalty)

    def penalize_duplicates(self, max_similarity: FloatArray, out: FloatArray) -> None:
        """Subtract the near-duplicate tier from ``out`` where ``max_similarity`` is above it."""
        if self.duplicate_threshold is not None:
            np.greater(max_similarity, self.duplicate_threshold, out=self._mask)
            np.subtract(out, TIER_DUPLICATE, out=out, where=self._mask)

    def select(self, j: int) -> bool:
        """Record candidate ``j`` on the page; penalise a label the moment it reaches its cap.

        Used by MMR and DPP; the fusion's compiled step does the same (and also the pressure
        and novelty features) in ``fusion_kernel.advance``. Returns True when a cap tier was
        added (``penalty`` changed beyond entry ``j``).
        """
        penalty = self.penalty
        penalty[j] = _NEG_INF
        labels = self._labels
        if labels is None:
            return False
        capped = False
        for label, tier in labels:
            slot = label.slots.item(j)
            if slot == label.free:
                continue
            counts = label.counts
            count = counts.item(slot) + 1
            counts[slot] = count
            if count == label.cap:
                mask = self._mask
                np.equal(label.slots, slot, out=mask)
                np.subtract(penalty, tier, out=penalty, where=mask)
                capped = True
        return capped

    def violations(self, j: int, max_similarity: float | None) -> list[str]:
        """Which constraints candidate ``j`` breaks now, in relaxation order."""
        broken = []
        if self.category is not None and self.category.full(j):
            broken.append("category_cap")
        if self.brand is not None and self.brand.full(j):
            broken.append("brand_cap")
        if (
            self.duplicate_threshold is not None
            and max_similarity is not None
            and np.float32(max_similarity) > self.duplicate_threshold
        ):
            broken.append("near_duplicate")
        return broken
