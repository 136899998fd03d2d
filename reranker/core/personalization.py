"""How well each candidate fits one shopper: interests, category/brand affinity, centroid.

A shopper has several interests (say drills and garden hoses), so similarity is a weighted
soft-max over interest vectors rather than the cosine to one averaged centroid, which would
point between the interests at nothing they want. The centroid is still kept, but as the
reference for over-personalisation (see ``centroid_excess``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat

import numpy as np

from reranker.core.types import FloatArray, IntArray, UserProfile

__all__ = [
    "INTEREST_TEMPERATURE",
    "centroid_excess",
    "centroid_similarity",
    "interest_similarity",
    "label_affinity",
]

INTEREST_TEMPERATURE = 0.1
_GEMM_MAX = 1024


def interest_similarity(
    embeddings: FloatArray,
    user: UserProfile,
    temperature: float = INTEREST_TEMPERATURE,
    out: FloatArray | None = None,
) -> FloatArray:
    """Weighted soft-max of cosine to the user's interests: ``τ·log Σ_m w_m·exp(cos_m / τ)``.

    With one interest it is that cosine; as τ → 0 it tends to the best-matching interest.
    Never above the best cosine, since the weights sum to 1. ``out``: an (n,) buffer to fill.
    """
    interests = np.asarray(user.interests, dtype=np.float32)
    m, n = interests.shape[0], embeddings.shape[0]
    if m * n <= _GEMM_MAX:
        cos = interests @ embeddings.T
    else:
        # beyond a few hundred rows OpenBLAS runs this skinny gemm multi-threaded, which is
        # several times slower on a busy 2-core box than m single-threaded mat-vecs.
        cos = np.empty((m, n), dtype=np.float32)
        for i in range(m):
            np.matmul(embeddings, interests[i], out=cos[i])
    if m == 1:
        if out is None:
            return cos[0]
        out[:] = cos[0]
        return out
    top = np.maximum.reduce(cos, axis=0)
    cos -= top
    cos *= np.float32(1.0 / temperature)
    np.exp(cos, out=cos)
    weights = np.asarray(user.interest_weights, dtype=np.float32)
    mix = np.matmul(weights, cos, out=out)
    np.maximum(mix, np.float32(1e-30), out=mix)
    np.log(mix, out=mix)
    mix *= np.float32(temperature)
    mix += top
    return mix


def label_affinity(
    codes: IntArray | None,
    names: Sequence[str],
    affinity: Mapping[str, float],
    n: int,
    out: FloatArray | None = None,
) -> FloatArray:
    """The user's history share of each candidate's label (0 when unknown or never bought).

    ``out``: an (n,) buffer to fill.
    """
    if codes is None or not affinity or not names:
        if out is None:
            return np.zeros(n, dtype=np.float32)
        out.fill(0.0)
        return out
    table = np.zeros(len(names) + 1, dtype=np.float32)  # code -1 reads the trailing 0
    if len(names) <= 4 * len(affinity) + 32:
        table[:-1] = list(map(affinity.get, names, repeat(0.0)))
    else:  # a large shared vocabulary and a short history: look up the user's labels
        for name, share in affinity.items():
            try:
                table[names.index(name)] = share
            except ValueError:
                continue
    return table.take(codes, out=out)


def centroid_similarity(
    embeddings: FloatArray, centroid: FloatArray, out: FloatArray | None = None
) -> FloatArray:
    """Cosine to the user's history centroid (the centroid is L2-normalised)."""
    return np.matmul(embeddings, np.asarray(centroid, dtype=np.float32), out=out)


def centroid_excess(similarity: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """Closeness to the centroid beyond this window's average: ``max(0, cos_i - mean cos)``.

    The over-personalisation signal: it is zero for candidates no closer to the user's past
    than the typical hit, and grows for the ones that just repeat it.
    """
    if similarity.shape[0] == 0:
        return similarity.copy() if out is None else out
    mean = np.add.reduce(similarity) / np.float32(similarity.shape[0])
    out = np.subtract(similarity, np.float32(mean), out=out)
    np.maximum(out, 0.0, out=out)
    return out
