"""PCA projection (saved as npy/json) and byte quantisation, with recall measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.embeddings import normalize_rows
from indexer.projection import Projection, byte_scale, fit_pca, recall_at_k, to_bytes, topk


def _clustered(n: int = 600, d: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, d))
    return normalize_rows(centres[rng.integers(0, 12, n)] + 0.3 * rng.standard_normal((n, d)))


def test_pca_round_trip_and_recall(tmp_path: Path) -> None:
    x = _clustered()
    proj = fit_pca(x, 16)
    proj.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "components.npy",
        "mean.npy",
        "projection.json",
    ]
    loaded = Projection.load(tmp_path)
    y = loaded.apply(x)
    assert y.shape == (600, 16)
    assert np.allclose(y, proj.apply(x))
    assert 0.0 < proj.explained_variance <= 1.0
    assert recall_at_k(x, x, k=10) == 1.0
    r = recall_at_k(x, y, k=10)
    assert 0.2 < r < 1.0  # lossy, and measured


def test_bytes_keep_neighbours() -> None:
    x = _clustered()
    b = to_bytes(x, byte_scale(x))
    assert b.dtype == np.int8 and np.abs(b).max() == 127
    assert recall_at_k(x, b, k=10) > 0.8


def test_topk_is_sorted_by_similarity() -> None:
    x = _clustered(50, 8)
    idx = topk(x[:3], x, 5)
    sims = normalize_rows(x[:3]) @ normalize_rows(x).T
    assert (idx[:, 0] == np.arange(3)).all()  # each row is its own nearest
    for row, ids in enumerate(idx):
        assert list(sims[row, ids]) == sorted(sims[row, ids], reverse=True)
