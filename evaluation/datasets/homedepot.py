"""Home Depot search relevance: real queries with graded, shallow crowd judgments.

Gains for the ranking metrics are integers (ranx wants ints): ``round(3 * (relevance - 1))``,
so 1 (irrelevant) -> 0 and 3 (highly relevant) -> 6 and the thirds of the crowd mean survive.
About 7 products are judged per query, so unjudged products are unknown, not irrelevant.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np

from evaluation.datasets.types import Catalog, Dataset, Request
from indexer.categorize import OTHER
from indexer.presets import HOMEDEPOT_ZIP, homedepot_items, homedepot_rows

__all__ = ["HomeDepotLoader", "gain_from_relevance"]


def gain_from_relevance(relevance: float) -> int:
    """Map the 1..3 crowd mean onto integer gains 0..6 (thirds are kept apart)."""
    if not 1.0 <= relevance <= 3.0:
        raise ValueError(f"Home Depot relevance must lie in [1, 3], got {relevance}")
    return round(3.0 * (relevance - 1.0))


class HomeDepotLoader:
    name = "homedepot"

    def load(self, data_dir: Path, cache_dir: Path) -> Dataset:
        path = data_dir / HOMEDEPOT_ZIP
        if not path.is_file():
            raise FileNotFoundError(f"Home Depot data not found: {path}")
        digest = hashlib.sha256(path.read_bytes())  # ~2 MB: the judgments and the titles
        brands = data_dir / "homedepot" / "brandnames.txt"
        digest.update(brands.read_bytes() if brands.is_file() else b"")
        judgments: dict[str, dict[str, int]] = {}
        for row_no, row in homedepot_rows(data_dir):
            try:
                pid, query = row["product_uid"].strip(), row["search_term"].strip()
                gain = gain_from_relevance(float(row["relevance"]))
            except (KeyError, ValueError, AttributeError) as exc:
                raise ValueError(f"{path}: row {row_no}: {exc}") from exc
            judgments.setdefault(query, {})[pid] = gain
        # The catalog exactly as `divrank index --preset homedepot` indexes it (brand tagger,
        # category rules), so the labels we measure are the labels the engine holds.
        items = sorted(homedepot_items(data_dir), key=lambda item: int(item.id))
        ids = [str(item.id) for item in items]
        titles = [str(item.title) for item in items]
        per_item = Counter(pid for judged in judgments.values() for pid in judged)
        n_queries = max(len(judgments), 1)
        catalog = Catalog(
            ids=ids,
            titles=titles,
            descriptions=[""] * len(titles),
            categories=[_category(item.category) for item in items],
            brands=[item.brand or None for item in items],
            popularity=np.array([per_item[i] / n_queries for i in ids], dtype=np.float32),
        )
        requests = [
            Request(qid=f"hd{n:05d}", query=query, judgments=judged)
            for n, (query, judged) in enumerate(judgments.items())
        ]
        return Dataset(
            name=self.name,
            catalog=catalog,
            requests=requests,
            shallow_judgments=True,
            retrievals=("bm25", "knn", "hybrid"),
            brand_label="brand",
            category_label="category (indexer title rules)",
            source_key=digest.hexdigest()[:16],
        )


def _category(path: object) -> tuple[str, ...]:
    """The indexer's title rules give a path ("Bath/Faucets/Faucet"); "Other" is unknown."""
    return (path,) if isinstance(path, str) and path and path != OTHER else ()
