"""What every dataset loader returns: a catalog and the requests to evaluate on it.

A dataset is data only (no engine, no embeddings): the episode builder turns it into
candidate sets by indexing the catalog and querying the real engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Catalog", "Dataset", "DatasetLoader", "Request"]


@dataclass(frozen=True)
class Catalog:
    """Items in a fixed order; ``categories`` may hold several names per item (genres)."""

    ids: list[str]
    titles: list[str]
    descriptions: list[str]  # "" when none; the indexer embeds "title. description"
    categories: list[tuple[str, ...]]
    brands: list[str | None]
    popularity: npt.NDArray[np.float32]  # share of requests/users that touched the item

    def __post_init__(self) -> None:
        n = len(self.ids)
        sizes = {
            "titles": len(self.titles),
            "descriptions": len(self.descriptions),
            "categories": len(self.categories),
            "brands": len(self.brands),
            "popularity": len(self.popularity),
        }
        wrong = {name: size for name, size in sizes.items() if size != n}
        if wrong:
            raise ValueError(f"catalog columns must all have {n} rows (one per id); got {wrong}")
        if len(set(self.ids)) != n:
            raise ValueError("catalog ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Request:
    """One evaluation request: a query, a user, or both, with its ground truth.

    ``judgments`` maps item id to an integer gain (0 = judged not relevant). With shallow
    judgments (Home Depot) an item missing from it is *unknown*, not irrelevant.
    """

    qid: str
    query: str | None
    user_id: str | None = None
    history: tuple[str, ...] = ()  # item ids the user touched before the split, oldest first
    judgments: dict[str, int] = field(default_factory=dict)
    # one weight per history entry (event type times recency decay); empty = 1 each
    history_weights: tuple[float, ...] = ()
    group: str | None = None  # split key: all requests of one user land in one split
    # judged only among the candidates the engine returned (replayed logs: what the user did
    # on that result set); a request with no relevant candidate is then dropped, and counted
    window_only: bool = False


@dataclass(frozen=True)
class Dataset:
    name: str
    catalog: Catalog
    requests: list[Request]
    shallow_judgments: bool  # True: unjudged = unknown (report judged@10 and condensed NDCG)
    retrievals: tuple[str, ...]  # candidate generators that make sense for this dataset
    brand_label: str = "brand"  # what the "brand" column means here (director, supplier, ...)
    category_label: str = "category"
    # catalog.popularity counts only what a ranker may know (events before the cut), so the
    # core may rank by it; False where it is derived from the judgments themselves
    item_prior: bool = False
    # what the data files were (path, size, modification time): cached episodes, item tables
    # and evaluation indices built from other files are rebuilt, never reused; "" = fixed data
    source_key: str = ""


@runtime_checkable
class DatasetLoader(Protocol):
    """A new dataset is one small module with one object that satisfies this."""

    name: str

    def load(self, data_dir: Path, cache_dir: Path) -> Dataset:
        """Read the raw files (``data_dir``), caching anything derived under ``cache_dir``."""
        ...
