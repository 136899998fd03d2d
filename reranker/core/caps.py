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
from numba import njit

from reranker.core.types import FloatArray, IntArray

__all__ = [
    "RELAXATION_ORDER",
    "TIER_BRAND",
    "TIER_CATEGORY",
    "TIER_DUPLICATE",
    "HomogeneityConstraints",
    "label_pick",
]

RELAXATION_ORDER = ("category_cap", "brand_cap", "near_duplicate")
TIER_CATEGORY = np.float32(100.0)
TIER_BRAND = np.float32(1000.0)
TIER_DUPLICATE = np.float32(10000.0)


@njit(cache=True, nogil=True, inline="always")
def label_pick(
    j: int,
    slots: npt.NDArray[np.intp],
    counts: npt.NDArray[np.int64],
    brand_cap: int,
    category_cap: int,
    brand_free: int,
    category_free: int,
    penalty: FloatArray,
) -> bool:
    """Record candidate ``j`` on the page; penalise a label the moment it reaches its cap.

    ``slots``: rows 0 and 1 hold each candidate's brand and category slot in ``counts`` (one
    array for both labels); ``*_free``: the slot of unknown or exempt labels, never counted;
    a cap of 0 is no cap. Returns True when a cap tier was added (``penalty`` changed beyond
    entry ``j``).
    """
    penalty[j] = -np.inf
    capped = False
    for label in range(2):
        slot = slots[label, j]
        if slot == (brand_free if label == 0 else category_free):
            continue
        count = counts[slot] + 1
        counts[slot] = count
        if count == (brand_cap if label == 0 else category_cap):
            tier = TIER_BRAND if label == 0 else TIER_CATEGORY
            for i in range(penalty.shape[0]):
                if slots[label, i] == slot:
                    penalty[i] -= tier
            capped = True
    return capped


def _slots(codes: IntArray | None, vocabulary: int, n: int, exempt: Collection[int]) -> IntArray:
    """Each candidate's slot in ``[0, vocabulary]``; unknown (-1) and exempt labels get
    ``vocabulary``, the free slot."""
    free = vocabulary
    if codes is None:
        return np.full(n, free, dtype=np.intp)
    slots = np.remainder(codes, vocabulary + 1, dtype=np.intp)  # -1 wraps onto the free slot
    for code in exempt:
        slots[slots == code] = free
    return slots


class HomogeneityConstraints:
    """Per-request constraint state; ``apply`` adds penalties to a step's scores in place.

    Label counts live in one array: brand slots ``[0, n_brands]`` then category slots
    ``[n_brands + 1, n_brands + n_categories + 1]``, the last of each range being that
    label's free slot (unknown or exempt). ``slots`` (2, n) holds each candidate's two slots.
    """

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
        slots: npt.NDArray[np.intp] | None = None,
    ) -> None:
        """``slots``: an optional (2, n) buffer to keep the label slots in."""
        self.n = n
        self.k = k
        self.brand_cap = brand_cap
        self.category_cap = category_cap
        self.category_offset = n_brands + 1
        self.brand_free = n_brands
        self.category_free = self.category_offset + n_categories
        if slots is None:
            slots = np.empty((2, n), dtype=np.intp)
        slots[0] = _slots(brands, n_brands, n, exempt_brands)
        np.add(_slots(categories, n_categories, n, exempt_categories), n_brands + 1, out=slots[1])
        self.slots = slots
        self.counts = np.zeros(self.category_free + 1, dtype=np.int64)
        # counting is only needed for caps here; the fusion counts for its pressure features
        self._capped = brand_cap is not None or category_cap is not None
        self.duplicate_threshold = (
            None if duplicate_threshold is None else np.float32(duplicate_threshold)
        )
        self.penalty = np.zeros(n, dtype=np.float32)  # cap tiers; -inf once selected
        self._mask = np.empty(n, dtype=bool)

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
        """Record candidate ``j`` on the page (``label_pick``). True when a cap tier was added."""
        if not self._capped:
            self.penalty[j] = -np.inf
            return False
        return bool(
            label_pick(
                j,
                self.slots,
                self.counts,
                self.brand_cap or 0,
                self.category_cap or 0,
                self.brand_free,
                self.category_free,
                self.penalty,
            )
        )

    def _full(self, label: int, cap: int | None, free: int, j: int) -> bool:
        slot = self.slots.item(label, j)
        return cap is not None and slot != free and self.counts.item(slot) >= cap

    def violations(self, j: int, max_similarity: float | None) -> list[str]:
        """Which constraints candidate ``j`` breaks now, in relaxation order."""
        broken = []
        if self._full(1, self.category_cap, self.category_free, j):
            broken.append("category_cap")
        if self._full(0, self.brand_cap, self.brand_free, j):
            broken.append("brand_cap")
        if (
            self.duplicate_threshold is not None
            and max_similarity is not None
            and np.float32(max_similarity) > self.duplicate_threshold
        ):
            broken.append("near_duplicate")
        return broken
