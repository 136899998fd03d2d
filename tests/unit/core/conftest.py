"""Synthetic but realistic request data for the ranking-core tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from reranker.core import Candidates, UserProfile


def unit_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(
    n: int = 100, dim: int = 64, clusters: int = 8, seed: int = 0, spread: float = 0.7
) -> Candidates:
    """Candidates in engine order: clustered unit vectors, decreasing BM25-like scores,
    categories following the clusters, a dozen brands."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim))
    labels = rng.integers(0, clusters, n)
    emb = unit_rows(centers[labels] + spread * rng.normal(size=(n, dim)))
    scores = np.sort(rng.gamma(2.0, 4.0, n).astype(np.float32))[::-1].copy()
    return Candidates(
        ids=[f"p{i}" for i in range(n)],
        scores=scores,
        embeddings=emb,
        categories=labels.astype(np.int32),
        brands=rng.integers(-1, 12, n).astype(np.int32),
        category_names=[f"cat{i}" for i in range(clusters)],
        brand_names=[f"brand{i}" for i in range(12)],
    )


def user_for(c: Candidates, seed: int = 1) -> UserProfile:
    assert c.embeddings is not None
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(c), 6, replace=False)
    history = c.embeddings[picks]
    centroid = history.mean(axis=0)
    return UserProfile(
        interests=history[:3].copy(),
        interest_weights=np.array([0.5, 0.3, 0.2], dtype=np.float32),
        centroid=(centroid / np.linalg.norm(centroid)).astype(np.float32),
        category_affinity={"cat1": 0.5, "cat2": 0.3, "not-in-window": 0.2},
        brand_affinity={"brand3": 0.6, "brand4": 0.4},
    )


@pytest.fixture
def make_candidates() -> Callable[..., Candidates]:
    return clustered


@pytest.fixture
def make_user() -> Callable[..., UserProfile]:
    return user_for
