"""Plain data passed into and out of the ranking core.

The core never sees JSON, HTTP or OpenSearch: the sidecar, the evaluation harness and the
trainer all build these from their own inputs, so all three run the very same ranking code.
Labels (category, brand) arrive as small integer codes per request; -1 means unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from reranker.contract import DEFAULT_DIVERSITY

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]



@dataclass(frozen=True)
class Candidates:
    """The engine's window for one request, in engine order.

    ``scores`` may hold NaN for a missing engine score. ``embeddings`` rows are L2-normalised
    float32 (or None when the request carries no vectors: diversity then falls back to labels).
    """

    ids: list[str]
    scores: FloatArray  # (n,)
    embeddings: FloatArray | None = None  # (n, d)
    categories: IntArray | None = None  # (n,) codes into category_names, -1 unknown
    brands: IntArray | None = None  # (n,) codes into brand_names, -1 unknown
    category_names: list[str] = field(default_factory=list)
    brand_names: list[str] = field(default_factory=list)
    # learned relevance (any scale, e.g. ``RelevanceModel.score``): when present it replaces
    # ``scores`` as the relevance every strategy but ``engine`` ranks by
    relevance: FloatArray | None = None  # (n,)
    # item prior: how many shoppers had each item (any scale >= 0, e.g. a share of users),
    # from the shop's own events; None = unknown (the ``popularity`` feature is then 0)
    popularity: FloatArray | None = None  # (n,)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class UserProfile:
    """What the core knows about a shopper: several interests, not one centroid."""

    interests: FloatArray  # (m, d), rows L2-normalised
    interest_weights: FloatArray  # (m,), sum to 1
    centroid: FloatArray | None = None  # (d,) mean of history embeddings, normalised
    category_affinity: dict[str, float] = field(default_factory=dict)  # name -> share
    brand_affinity: dict[str, float] = field(default_factory=dict)  # name -> share
    # item id -> affinity in (0, 1): repeat count with recency decay, saturating
    # (``profile.item_affinity``), bounded to the user's strongest items
    item_affinity: dict[str, float] = field(default_factory=dict)
    repeat_rate: float = 0.0  # how often this user came back for an item they had, in [0, 1]
    # category name -> the same rate within that category (absent: ``repeat_rate``)
    category_repeat_rate: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Knobs:
    """Per-request controls. ``diversity`` in [0, 1]; 1 = most diverse."""

    diversity: float = DEFAULT_DIVERSITY
    strategy: str = "fusion"
    explain: bool = False
    max_per_brand: int | None = None  # None = derived from diversity
    max_per_category: int | None = None
    duplicate_threshold: float = 0.97  # cosine above which two items are near-duplicates
    dpp_window: int | None = None  # sliding-window DPP for long pages
    # Caps and label pressure are per page of this many (None = k). With k = from + size and
    # page_size = size, a deep page's first picks are page 1's, so pages never overlap.
    page_size: int | None = None
    query_brands: frozenset[str] = frozenset()  # brands the query names: caps step back
    query_categories: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Ranking:
    """The new page: ``order`` indexes into the candidates, best first."""

    order: IntArray  # (k,)
    scores: FloatArray  # (k,) fused score at the moment each item was selected
    explanations: list[dict[str, Any]] | None = None
