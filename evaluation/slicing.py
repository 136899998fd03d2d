"""A small, self-consistent slice of a dataset (for fast end-to-end tests and smoke runs)."""

from __future__ import annotations

import dataclasses

import numpy as np

from evaluation.datasets import Catalog, Dataset

__all__ = ["slice_dataset"]


def slice_dataset(dataset: Dataset, requests: int, items: int, seed: int = 0) -> Dataset:
    """The first ``requests`` requests with a relevant item, and a catalog of at most ``items``.

    The catalog keeps every item those requests judge or remember (so ground truth stays
    reachable) and fills up with a seeded random sample of the rest as distractors.
    """
    chosen = [r for r in dataset.requests if any(g > 0 for g in r.judgments.values())]
    chosen = chosen[:requests]
    needed = {i for r in chosen for i in (*r.judgments, *r.history)}
    cat = dataset.catalog
    keep = [i for i, item in enumerate(cat.ids) if item in needed]
    rest = [i for i, item in enumerate(cat.ids) if item not in needed]
    room = max(0, items - len(keep))
    rng = np.random.default_rng(seed)
    extra = rng.choice(len(rest), size=min(room, len(rest)), replace=False) if rest else []
    rows = sorted(keep + [rest[int(j)] for j in extra])
    catalog = Catalog(
        ids=[cat.ids[i] for i in rows],
        titles=[cat.titles[i] for i in rows],
        descriptions=[cat.descriptions[i] for i in rows],
        categories=[cat.categories[i] for i in rows],
        brands=[cat.brands[i] for i in rows],
        popularity=np.asarray(cat.popularity)[rows],
    )
    return dataclasses.replace(dataset, catalog=catalog, requests=chosen)
