"""Per-request relevance normalisation: engine scores of any scale to [0, 1].

BM25 scores (5..40) and cosine scores (0.80..0.86) must mean the same knob, so relevance is an
affine min-max map of the request's own scores: invariant to scale and shift. Rules:

- all finite scores equal (or a single one): relevance 1 for all of them (ties stay ties, and
  the greedy selections break ties by engine position);
- a missing score (NaN or ±inf) gets 0, the level of the worst real score, so it can never
  jump to the top;
- when no score is finite (an engine sort by a field), or when the finite scores disagree with
  the engine order (a field sort with ``track_scores``), the engine order itself is the
  relevance: ``1 - rank / (n - 1)``. Either way, relevance-only selection returns the engine
  order.
"""

from __future__ import annotations

import numpy as np

from reranker.core.types import FloatArray

__all__ = ["MAX_GAIN_TEMPERATURE", "learned_gains", "normalize_learned", "normalize_scores",
           "rank_relevance"]  # fmt: skip

# above this the map is a straight line to within 1e-3 anyway
MAX_GAIN_TEMPERATURE = 10.0


def rank_relevance(n: int) -> FloatArray:
    """Relevance from engine position alone: 1 for the first hit down to 0 for the last."""
    if n <= 1:
        return np.ones(n, dtype=np.float32)
    return np.linspace(1.0, 0.0, n, dtype=np.float32)


def normalize_scores(scores: FloatArray) -> FloatArray:
    """Map one request's engine scores to [0, 1] (see the module docstring for the rules)."""
    s = np.asarray(scores, dtype=np.float32)
    n = s.shape[0]
    if n == 0:
        return s.copy()
    finite = np.isfinite(s)
    if finite.all():
        kept = s
    elif finite.any():
        kept = s[finite]
    else:
        return rank_relevance(n)
    if kept.shape[0] > 1 and bool((kept[1:] > kept[:-1]).any()):
        return rank_relevance(n)
    hi = float(kept[0])
    lo = float(kept[-1])
    # a division (not a multiply by the inverse) maps hi to exactly 1 and lo to exactly 0
    rel = (s - np.float32(lo)) / np.float32(hi - lo) if hi > lo else np.ones(n, np.float32)
    if kept is not s:
        rel[~finite] = 0.0
    return rel.astype(np.float32, copy=False)


def normalize_learned(scores: FloatArray) -> FloatArray:
    """Map a relevance model's scores to [0, 1] by min-max. Unlike engine scores they are not
    expected in engine order (re-ordering is their point), so there is no order check; a
    missing score gets 0 and all-equal scores get 1."""
    s = np.asarray(scores, dtype=np.float32)
    finite = np.isfinite(s)
    if not finite.any():
        return np.ones(s.shape[0], dtype=np.float32) if s.shape[0] else s.copy()
    lo, hi = float(s[finite].min()), float(s[finite].max())
    rel = (s - np.float32(lo)) / np.float32(hi - lo) if hi > lo else np.ones_like(s)
    rel[~finite] = 0.0
    return rel.astype(np.float32, copy=False)


def learned_gains(scores: FloatArray, temperature: float) -> FloatArray:
    """A relevance model's scores as gains in [0, 1]: min-max, then ``expm1(r / T)`` rescaled
    so the worst score stays 0 and the best 1 (``T = 0``: the min-max line itself).

    Why: a ranking model's scores are log-odds-like, so the gain an item adds to NDCG grows
    faster than linearly in its score. On the line, the fusion pays as much relevance to swap
    two near-top items as two mediocre ones; on the curve the top few hold their places while
    the tail, where the model is unsure, is cheap to vary. ``T`` is fitted on validation
    (``divrank fit-gain``); a small ``T`` is a sharp curve.
    """
    rel = normalize_learned(scores)
    t = float(temperature)
    if not 0.0 <= t <= MAX_GAIN_TEMPERATURE:
        raise ValueError(f"gain temperature must be in [0, {MAX_GAIN_TEMPERATURE:g}], got {t}")
    if t == 0.0:
        return rel
    curved = np.expm1(rel.astype(np.float64) / t) / np.expm1(1.0 / t)
    return curved.astype(np.float32)
