"""Smaller vectors: PCA down-projection and int8 (byte) quantisation, with their recall cost.

PCA (scikit-learn) is fitted on the catalog's own embeddings; the projection is saved as
``mean.npy`` + ``components.npy`` + ``projection.json`` (never pickle) so query vectors can be
projected the same way. Byte quantisation multiplies by one global scale (``127 / max |x|``)
and rounds; cosine ignores the scale. :func:`recall_at_k` measures either against exact
full-precision neighbours by brute force.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.embeddings import normalize_rows

__all__ = ["Projection", "byte_scale", "fit_pca", "recall_at_k", "to_bytes", "topk"]


@dataclass(frozen=True)
class Projection:
    mean: np.ndarray  # (d,)
    components: np.ndarray  # (k, d)
    explained_variance: float

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Project and re-normalise (cosine on the projected space)."""
        return normalize_rows((np.asarray(vectors, np.float32) - self.mean) @ self.components.T)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "mean.npy", self.mean.astype(np.float32))
        np.save(directory / "components.npy", self.components.astype(np.float32))
        (directory / "projection.json").write_text(
            json.dumps(
                {
                    "kind": "pca",
                    "input_dim": int(self.components.shape[1]),
                    "output_dim": self.dim,
                    "explained_variance": self.explained_variance,
                },
                indent=2,
            )
        )

    @classmethod
    def load(cls, directory: Path) -> Projection:
        info = json.loads((directory / "projection.json").read_text())
        return cls(
            mean=np.load(directory / "mean.npy", allow_pickle=False),
            components=np.load(directory / "components.npy", allow_pickle=False),
            explained_variance=float(info["explained_variance"]),
        )


def fit_pca(vectors: np.ndarray, dim: int, seed: int = 0, max_rows: int = 20000) -> Projection:
    """Fit on (a sample of) ``vectors``; ``dim`` must be below the input dimension."""
    from sklearn.decomposition import PCA

    n, d = vectors.shape
    if not 1 <= dim < d:
        raise ValueError(f"PCA dimension must be between 1 and {d - 1}, got {dim}")
    if n < dim:
        raise ValueError(f"PCA to {dim} dimensions needs at least {dim} vectors, got {n}")
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(n, size=max_rows, replace=False)] if n > max_rows else vectors
    pca = PCA(n_components=dim, random_state=seed).fit(sample)
    return Projection(
        mean=pca.mean_.astype(np.float32),
        components=pca.components_.astype(np.float32),
        explained_variance=float(pca.explained_variance_ratio_.sum()),
    )


def byte_scale(vectors: np.ndarray) -> float:
    peak = float(np.max(np.abs(vectors))) if vectors.size else 1.0
    return 127.0 / max(peak, 1e-12)


def to_bytes(vectors: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.rint(np.asarray(vectors, np.float32) * scale), -128, 127).astype(np.int8)


def topk(queries: np.ndarray, base: np.ndarray, k: int, exclude_self: bool = False) -> np.ndarray:
    """Indices of the ``k`` most cosine-similar rows of ``base`` per query (brute force)."""
    q = normalize_rows(queries.astype(np.float32))
    b = normalize_rows(base.astype(np.float32))
    sims = q @ b.T
    if exclude_self:
        np.fill_diagonal(sims, -np.inf)
    part = np.argpartition(-sims, kth=min(k, sims.shape[1] - 1), axis=1)[:, :k]
    order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(part, order, axis=1)


def recall_at_k(
    reference: np.ndarray, candidate: np.ndarray, k: int = 10, n_queries: int = 500, seed: int = 0
) -> float:
    """Share of the exact top-``k`` (by ``reference``) found by ``candidate`` vectors.

    Queries are catalog items themselves (item-to-item neighbours, the similarity the
    diversity and personalization terms use); each query's own row is excluded.
    """
    n = reference.shape[0]
    rng = np.random.default_rng(seed)
    idx = rng.choice(n, size=min(n_queries, n), replace=False)
    ref_sims = normalize_rows(reference[idx]) @ normalize_rows(reference).T
    cand_sims = (
        normalize_rows(candidate[idx].astype(np.float32))
        @ normalize_rows(candidate.astype(np.float32)).T
    )
    rows = np.arange(len(idx))
    ref_sims[rows, idx] = -np.inf
    cand_sims[rows, idx] = -np.inf
    truth = np.argpartition(-ref_sims, kth=k, axis=1)[:, :k]
    found = np.argpartition(-cand_sims, kth=k, axis=1)[:, :k]
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True))
    return hits / (len(idx) * k)
