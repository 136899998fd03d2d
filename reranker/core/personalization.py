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
from numba import njit

from reranker.core.similarity import dot32
from reranker.core.types import FloatArray, IntArray

__all__ = [
    "INTEREST_TEMPERATURE",
    "label_affinity",
    "user_similarities",
]

INTEREST_TEMPERATURE = 0.1


@njit(cache=True, nogil=True)
def user_similarities(
    embeddings: FloatArray,
    interests: FloatArray,
    interest_weights: FloatArray,
    centroid: FloatArray,
    temperature: float,
    interest_out: FloatArray,
    centroid_out: FloatArray,
    excess_out: FloatArray,
) -> None:
    """Interest soft-max, centroid cosine and centroid excess in one pass over the window.

    Interest similarity is ``τ·log Σ_m w_m·exp(cos(x, u_m)/τ)``, a weighted soft-max of the
    cosines to the interests: with one interest it is that cosine, as τ → 0 it tends to the
    best-matching one, and it is never above the best cosine (the weights sum to 1). The
    centroid excess is ``max(0, cos(x, centroid) - mean over the window)``: zero for
    candidates no closer to the user's past than the typical hit, growing for the ones that
    just repeat it (the over-personalisation signal).

    Compiled: per candidate it is m + 1 dot products and m exponentials, which numpy would
    spread over a dozen calls. No interests (m = 0): ``interest_out`` is left alone; an empty
    ``centroid``: ``centroid_out`` and ``excess_out`` are left alone.
    """
    n = embeddings.shape[0]
    m = interests.shape[0]
    has_centroid = centroid.shape[0] > 0
    inv_t = np.float32(1.0 / temperature)
    t32 = np.float32(temperature)
    tiny = np.float32(1e-30)
    cos = np.empty(max(m, 1), dtype=np.float32)
    total = 0.0
    for i in range(n):
        e = embeddings[i]
        if m == 1:
            interest_out[i] = dot32(e, interests[0])
        elif m > 1:
            top = np.float32(-np.inf)
            for a in range(m):
                cos[a] = dot32(e, interests[a])
                top = max(top, cos[a])
            mix = np.float32(0.0)
            for a in range(m):
                mix += interest_weights[a] * np.exp((cos[a] - top) * inv_t)
            interest_out[i] = np.log(max(mix, tiny)) * t32 + top
        if has_centroid:
            sim = dot32(e, centroid)
            centroid_out[i] = sim
            total += float(sim)
    if has_centroid and n:
        mean = np.float32(total / n)
        for i in range(n):
            excess_out[i] = max(centroid_out[i] - mean, np.float32(0.0))


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
