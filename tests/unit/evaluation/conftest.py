"""A small synthetic catalog for the training tests: unit vectors around a few cluster
centres, with random categories and brands (one of each per item). A fixture, because with
``--import-mode=importlib`` test modules cannot import helpers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from evaluation.episodes import ItemTable


def clustered_table(
    rng: np.random.Generator,
    n_items: int,
    clusters: int,
    categories: int,
    brands: int,
    id_prefix: str = "i",
) -> ItemTable:
    centers = rng.normal(size=(clusters, 8))
    emb = centers[rng.integers(0, clusters, n_items)] + 0.3 * rng.normal(size=(n_items, 8))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    cats = rng.integers(0, categories, n_items).astype(np.int32)
    return ItemTable(
        ids=np.array([f"{id_prefix}{i}" for i in range(n_items)]),
        embeddings=emb,
        category=cats,
        cat_ptr=np.arange(n_items + 1, dtype=np.int32),
        cat_idx=cats.copy(),
        brand=rng.integers(0, brands, n_items).astype(np.int32),
        popularity=np.full(n_items, 1.0 / n_items),
        category_names=list("abcdefghij"[:categories]),
        brand_names=list("ABCDEFGHIJ"[:brands]),
        model="test",
    )


@pytest.fixture()
def make_table() -> Callable[..., ItemTable]:
    """``clustered_table`` itself: ``make_table(rng, n_items, clusters=, categories=, brands=)``."""
    return clustered_table
