"""Homogeneity constraints applied *during* greedy selection: brand/category caps, near-duplicates.

A post-filter would leave the page short; here every step picks the best candidate that
breaks no constraint. When every remaining candidate breaks one, the step relaxes them in this
order (``RELAXATION_ORDER``) and the explanation records it:

1. the category cap (categories are coarse: a third drill on a "drills" query is fine),
2. the brand floor (below),
3. the brand cap,
4. near-duplicate suppression (the last thing a shopper wants is the same item twice).

The brand floor keeps personalisation from narrowing the page: when the request has a user,
page 1 shows at least as many brands as the engine's own page 1 did (``Request.brand_floor``).
Once the picks left on the page are only just enough to reach that count, every candidate
whose brand is already on the page (or unknown) is held back until the page is full; then
the hold is lifted for deeper pages.

It is done with tiered penalties added to the step's scores: a candidate breaking the
category cap loses 100, the brand floor 300, the brand cap 1 000, a near-duplicate 10 000
(fused scores stay far below 100). The argmax then takes the best candidate of the mildest
tier, which is exactly "relax in order", in one vectorised step, and the page is never short.
Brands and categories the query names (explicit intent) are exempt from caps and from cap
pressure, and a query that names a brand has no brand floor.
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
    "TIER_FLOOR",
    "HomogeneityConstraints",
    "floor_holds",
    "floor_pick",
    "label_pick",
]

RELAXATION_ORDER = ("category_cap", "brand_floor", "brand_cap", "near_duplicate")
TIER_CATEGORY = np.float32(100.0)
TIER_FLOOR = np.float32(300.0)
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


# ``floor`` state, one int64 array shared by Python and the compiled fusion step
FLOOR_TARGET, FLOOR_SPAN, FLOOR_SIZE, FLOOR_SEEN, FLOOR_HOLDING = range(5)


@njit(cache=True, nogil=True, inline="always")
def floor_holds(slot: int, counts: npt.NDArray[np.int64], brand_free: int) -> bool:
    """Whether the brand floor, while holding, holds back a candidate of brand ``slot``: its
    brand is already on the page, or unknown (it adds no brand)."""
    return slot == brand_free or counts[slot] > 0


@njit(cache=True, nogil=True)
def _hold(
    slots: npt.NDArray[np.intp],
    counts: npt.NDArray[np.int64],
    brand_free: int,
    only: int,
    tier: np.float32,
    penalty: FloatArray,
) -> None:
    """Add ``tier`` to the unselected candidates of brand slot ``only``, or (``only`` < 0) of
    every brand on the page and of unknown brands."""
    for i in range(penalty.shape[0]):
        if np.isneginf(penalty[i]):
            continue
        s = slots[0, i]
        held = s == only if only >= 0 else floor_holds(s, counts, brand_free)
        if held:
            penalty[i] += tier


@njit(cache=True, nogil=True)
def floor_pick(
    j: int,
    slots: npt.NDArray[np.intp],
    counts: npt.NDArray[np.int64],
    brand_free: int,
    floor: npt.NDArray[np.int64],
    penalty: FloatArray,
) -> bool:
    """Update the brand floor after ``label_pick`` recorded candidate ``j``.

    ``floor``: [target brands, span (page 1's size), picks so far, brands on the page,
    holding (0/1)]; a target of 0 is no floor. Returns True when ``penalty`` changed.
    """
    if floor[FLOOR_TARGET] <= 0 or floor[FLOOR_SIZE] >= floor[FLOOR_SPAN]:
        return False
    size = floor[FLOOR_SIZE] + 1
    floor[FLOOR_SIZE] = size
    slot = slots[0, j]
    new_brand = slot != brand_free and counts[slot] == 1
    if new_brand:
        floor[FLOOR_SEEN] += 1
    holding = floor[FLOOR_HOLDING] == 1
    if size == floor[FLOOR_SPAN]:  # page 1 is full: deeper pages are free again
        if holding:
            floor[FLOOR_HOLDING] = 0
            _hold(slots, counts, brand_free, -1, TIER_FLOOR, penalty)
        return holding
    if holding:
        if new_brand:  # its other items join the held-back ones
            _hold(slots, counts, brand_free, slot, -TIER_FLOOR, penalty)
        return new_brand
    need = floor[FLOOR_TARGET] - floor[FLOOR_SEEN]
    if need > 0 and need >= floor[FLOOR_SPAN] - size:
        floor[FLOOR_HOLDING] = 1
        _hold(slots, counts, brand_free, -1, -TIER_FLOOR, penalty)
        return True
    return False


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
        brand_floor: int = 0,
        floor_span: int = 0,
        slots: npt.NDArray[np.intp] | None = None,
    ) -> None:
        """``slots``: an optional (2, n) buffer to keep the label slots in; ``brand_floor``:
        brands page 1 (``floor_span`` picks) must show, 0 = none (``floor_pick``)."""
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
        self.floor = np.zeros(5, dtype=np.int64)
        if brand_floor > 0 and brands is not None:
            self.floor[FLOOR_TARGET] = brand_floor
            self.floor[FLOOR_SPAN] = floor_span
        # counting is only needed for caps and the floor here; the fusion counts for its
        # pressure features
        self._capped = (
            brand_cap is not None or category_cap is not None or self.floor[FLOOR_TARGET] > 0
        )
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
        capped = label_pick(
            j,
            self.slots,
            self.counts,
            self.brand_cap or 0,
            self.category_cap or 0,
            self.brand_free,
            self.category_free,
            self.penalty,
        )
        held = floor_pick(j, self.slots, self.counts, self.brand_free, self.floor, self.penalty)
        return bool(capped or held)

    def _full(self, label: int, cap: int | None, free: int, j: int) -> bool:
        slot = self.slots.item(label, j)
        return cap is not None and slot != free and self.counts.item(slot) >= cap

    def violations(self, j: int, max_similarity: float | None) -> list[str]:
        """Which constraints candidate ``j`` breaks now, in relaxation order."""
        broken = []
        if self._full(1, self.category_cap, self.category_free, j):
            broken.append("category_cap")
        if self.floor[FLOOR_HOLDING] and floor_holds(
            self.slots.item(0, j), self.counts, self.brand_free
        ):
            broken.append("brand_floor")
        if self._full(0, self.brand_cap, self.brand_free, j):
            broken.append("brand_cap")
        if (
            self.duplicate_threshold is not None
            and max_similarity is not None
            and np.float32(max_similarity) > self.duplicate_threshold
        ):
            broken.append("near_duplicate")
        return broken
