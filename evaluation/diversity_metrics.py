"""Beyond-accuracy metrics of one page: how varied it is and how it sits against the user.

Hand-written because the ranking libraries do not have them; each is a few lines of numpy
over the page's rows (best first), so they are easy to check by hand in the unit tests.
Category "mixes" are per-item distributions over categories (a two-genre film gives each
genre 1/2), as in Steck's calibrated recommendations (RecSys 2018).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "calibration_kl",
    "category_mix",
    "coverage",
    "gini",
    "history_novelty",
    "intra_list_distance",
    "mix_entropy",
    "novelty",
    "over_personalization",
    "repeat_share",
    "top_category_share",
]

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.integer]


def intra_list_distance(embeddings: FloatArray) -> float:
    """ILD: mean pairwise cosine distance (1 - cos) over all pairs of the page.

    Rows need not be normalised. A page with fewer than two items has no pairs: 0.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    n = emb.shape[0]
    if n < 2:
        return 0.0
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    unit = emb / np.where(norms == 0.0, 1.0, norms)
    sims = unit @ unit.T
    upper = sims[np.triu_indices(n, k=1)]
    return float(np.mean(1.0 - upper))


def coverage(labels: IntArray) -> int:
    """Distinct known labels (codes >= 0) on the page; -1 (unknown) does not count."""
    codes = np.asarray(labels)
    return int(np.unique(codes[codes >= 0]).size)


def category_mix(item_mixes: FloatArray) -> FloatArray:
    """The page's category distribution: mean of the items' rows, renormalised.

    Items with an all-zero row (no category known) are left out; no known item gives zeros.
    """
    rows = np.asarray(item_mixes, dtype=np.float64)
    known = rows.sum(axis=1) > 0
    if not known.any():
        return np.zeros(rows.shape[1], dtype=np.float64)
    mass = rows[known] / rows[known].sum(axis=1, keepdims=True)
    mix = mass.mean(axis=0)
    return mix / mix.sum()


def mix_entropy(mix: FloatArray) -> float:
    """Shannon entropy of a distribution, in bits (0 for a single category)."""
    p = np.asarray(mix, dtype=np.float64)
    p = p[p > 0]
    if p.size == 0:
        return 0.0
    p = p / p.sum()
    return float(-(p * np.log2(p)).sum())


def gini(mix: FloatArray) -> float:
    """Gini coefficient of a distribution over ``len(mix)`` categories (0 = even, ->1 = one).

    The category set is the caller's choice (e.g. the categories present among the
    candidates), since Gini counts the empty ones too.
    """
    p = np.sort(np.asarray(mix, dtype=np.float64))
    n = p.size
    total = p.sum()
    if n == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2.0 * (ranks * p).sum()) / (n * total) - (n + 1.0) / n)


def calibration_kl(history_mix: FloatArray, page_mix: FloatArray, alpha: float = 0.01) -> float:
    """Steck's miscalibration KL(p || q~) with q~ = (1 - alpha) q + alpha p, in nats.

    ``p`` is the user's history mix, ``q`` the page's; alpha keeps the KL finite when the page
    misses a category the user watches. 0 = the page mirrors the history's mix.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    p, q = _mixes(history_mix, page_mix)
    if p.sum() <= 0:
        return 0.0
    p = p / p.sum()
    q_tilde = (1.0 - alpha) * q + alpha * p
    on = p > 0
    return float((p[on] * np.log(p[on] / q_tilde[on])).sum())


def novelty(popularity: FloatArray, floor: float = 1e-6) -> float:
    """Mean self-information -log2(popularity) of the page; rarer items are more novel.

    ``popularity`` is each item's share of users (or requests) that touched it; ``floor``
    stands in for items nobody touched so the value stays finite.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    if pop.size == 0:
        return 0.0
    return float(np.mean(-np.log2(np.clip(pop, floor, 1.0))))


def over_personalization(embeddings: FloatArray, centroid: FloatArray) -> float:
    """Mean cosine of the page's items to the user's history centroid (higher = narrower)."""
    emb = np.asarray(embeddings, dtype=np.float64)
    c = np.asarray(centroid, dtype=np.float64)
    if emb.shape[0] == 0:
        return 0.0
    c_norm = np.linalg.norm(c)
    if c_norm == 0:
        raise ValueError("history centroid is the zero vector")
    norms = np.linalg.norm(emb, axis=1)
    cos = (emb @ c) / (np.where(norms == 0, 1.0, norms) * c_norm)
    return float(np.mean(cos))


def top_category_share(history_mix: FloatArray, page_mix: FloatArray) -> float:
    """Share of the page in the user's top history category: how far a page narrows to what
    the user already does most (compare with engine order's share on the same request)."""
    p, q = _mixes(history_mix, page_mix)
    if p.sum() <= 0:
        return 0.0
    return float(q[int(np.argmax(p))])


def _mixes(
    history_mix: FloatArray, page_mix: FloatArray
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    p = np.asarray(history_mix, dtype=np.float64)
    q = np.asarray(page_mix, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"history and page mixes differ in shape: {p.shape} vs {q.shape}")
    return p, q


def history_novelty(page: FloatArray, history: FloatArray) -> float:
    """Mean over the page of 1 - (best cosine to any history item): 0 = every item is (a
    copy of) something the user had, near 1 = nothing like their past."""
    emb = np.asarray(page, dtype=np.float64)
    hist = np.asarray(history, dtype=np.float64)
    if emb.shape[0] == 0 or hist.shape[0] == 0:
        return 0.0

    def unit(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        return m / np.where(norms == 0.0, 1.0, norms)

    best = (unit(emb) @ unit(hist).T).max(axis=1)
    return float(np.mean(1.0 - np.clip(best, -1.0, 1.0)))


def repeat_share(page: IntArray, history: IntArray) -> float:
    """Share of the page the user already had (bought, clicked, rated) before."""
    rows = np.asarray(page)
    if rows.size == 0:
        return 0.0
    return float(np.isin(rows, np.asarray(history)).mean())
