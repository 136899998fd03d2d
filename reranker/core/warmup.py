"""Compile (or load from numba's on-disk cache) the fusion kernels before the first request.

The first call of a numba function compiles it: about 3 s on a 2-core box, 0.3 s when the
cache next to the sources already holds it. A server calls ``warm_up`` at start-up so no
shopper's request pays for that.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reranker.core.registry import rerank
from reranker.core.relevance_features import IdfTable, relevance_features
from reranker.core.tree_ensemble import TreeEnsemble
from reranker.core.types import Candidates, Knobs, UserProfile

__all__ = ["warm_up"]


def warm_up() -> None:
    """Run each compiled path once on tiny synthetic requests: the fusion's fast loop, its
    step-by-step (explained) path and sliding window, label similarity, and the cap and
    Cholesky steps MMR and DPP call per pick, and the relevance model's feature and tree
    kernels."""
    rng = np.random.default_rng(0)
    n, dim = 12, 8
    emb = rng.normal(size=(n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    candidates = Candidates(
        ids=[f"w{i}" for i in range(n)],
        scores=np.linspace(1.0, 0.0, n, dtype=np.float32),
        embeddings=emb,
        categories=np.arange(n, dtype=np.int32) % 3,
        brands=np.arange(n, dtype=np.int32) % 4,
        category_names=["a", "b", "c"],
        brand_names=["p", "q", "r", "s"],
    )
    labels_only = replace(candidates, embeddings=None)
    user = UserProfile(
        interests=emb[:2].copy(),
        interest_weights=np.array([0.5, 0.5], dtype=np.float32),
        centroid=emb[0].copy(),
        category_affinity={"a": 0.7, "b": 0.3},
        brand_affinity={"p": 1.0},
    )
    for knobs in (
        Knobs(diversity=0.7),
        Knobs(diversity=0.7, explain=True),
        Knobs(diversity=0.7, dpp_window=2),
        Knobs(diversity=0.7, strategy="mmr"),
        Knobs(diversity=0.7, strategy="dpp"),
        Knobs(diversity=0.7, strategy="dpp", dpp_window=2),
    ):
        rerank(candidates, 5, knobs, user=user)
        rerank(labels_only, 5, knobs, user=user)
    titles = [f"p{i} cordless drill 3/4 in. bit" if i % 3 else None for i in range(n)]
    idf = IdfTable({"drill": 2.0, "bit": 3.0}, 6.0)
    relevance_features("q drill 3/4 in", titles, candidates, idf, emb[0])
    stump = TreeEnsemble(np.zeros(1, np.int32), np.zeros(1), np.full(1, 10, np.int32),
                         np.array([-1], np.int32), np.array([-2], np.int32), np.zeros(2),
                         np.array([0, 1], np.int32), np.array([0, 2], np.int32), 1)  # fmt: skip
    stump.predict(np.array([[0.5], [np.nan]], dtype=np.float32))
