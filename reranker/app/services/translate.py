"""Request → the core's dataclasses: label codes, unit-length float32 vectors, profile, intent.

Pure functions (no I/O): look-up results come in as arguments, so these are unit-tested on
their own. Each function also returns the degraded-path reasons it ran into, which the caller
reports in the response and in the metrics.

Policies kept here, at the edge, so the core stays pure:

- labels are compared case-insensitively: categories as ``level/level`` paths with trimmed
  levels, brands with collapsed whitespace (profiles get the same treatment);
- a candidate still lacking a vector after the look-up gets the (normalised) mean of the others:
  it then looks *typical*, so it is neither rewarded as novel nor punished as a duplicate;
- a stored profile and inline history are combined with equal weight; inline history becomes a
  profile the way the evaluation builds one (``reranker.core.profile.history_profile``);
- item memory: an item's affinity is the larger of the stored one and the inline history's
  (each inline id counts as one click), and the stored repeat rate wins over the inline one
  (it has seen the longer history).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np

from reranker.app.schemas import RerankRequest
from reranker.app.services.profiles import StoredProfile
from reranker.app.services.vectors import ItemRecord
from reranker.core.intent import detect_intent
from reranker.core.profile import (
    affinity_of,
    category_repeat_rates,
    history_profile,
    shrunk_repeat_rate,
)
from reranker.core.types import Candidates, Knobs, UserProfile

__all__ = [
    "DEFAULT_K",
    "brand_key",
    "category_key",
    "page_size",
    "to_candidates",
    "to_knobs",
    "to_profile",
]

DEFAULT_K = 10
INLINE_EVENT_WEIGHT = 2.0  # an inline history id weighs one click (indexer.profiles.TYPE_WEIGHTS)


LABEL_KEY_CACHE = 65536  # labels repeat across requests: a window has a few dozen distinct ones


@lru_cache(maxsize=LABEL_KEY_CACHE)
def category_key(text: str | None) -> str | None:
    if text is None:
        return None
    levels = [" ".join(level.split()).lower() for level in text.split("/")]
    key = "/".join(level for level in levels if level)
    return key or None


@lru_cache(maxsize=LABEL_KEY_CACHE)
def brand_key(text: str | None) -> str | None:
    if text is None:
        return None
    key = " ".join(text.split()).lower()
    return key or None


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; an all-zero row stays zero (it is similar to nothing)."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _codes(labels: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
    vocabulary: dict[str, int] = {}
    codes = np.fromiter(
        (-1 if lab is None else vocabulary.setdefault(lab, len(vocabulary)) for lab in labels),
        dtype=np.int32,
        count=len(labels),
    )
    return codes, list(vocabulary)


def page_size(request: RerankRequest) -> int:
    return request.k if request.k is not None else min(DEFAULT_K, len(request.candidates))


def to_candidates(
    request: RerankRequest, fetched: dict[str, ItemRecord]
) -> tuple[Candidates, list[str]]:
    """The candidates in engine order; request fields win over looked-up ones."""
    notes: list[str] = []
    cands = request.candidates
    n = len(cands)
    records = [fetched.get(c.id) for c in cands]

    vectors = request.vectors()
    dim = next((len(v) for v in vectors if v is not None), None)
    if dim is None:
        dim = next(
            (len(r.embedding) for r in records if r is not None and r.embedding is not None), None
        )
    embeddings: np.ndarray | None = None
    matrix = request.vector_matrix()
    if matrix is not None:  # every candidate sent base64: no row-by-row copy
        embeddings = _unit_rows(matrix)
    elif dim is not None:
        embeddings = np.zeros((n, dim), dtype=np.float32)
        present = np.zeros(n, dtype=bool)
        for i, (vector, record) in enumerate(zip(vectors, records, strict=True)):
            if vector is not None:
                embeddings[i] = vector  # a row copy for base64 vectors, a list parse for JSON
                present[i] = True
            elif (
                record is not None
                and record.embedding is not None
                and record.embedding.shape[0] == dim
            ):
                embeddings[i] = record.embedding
                present[i] = True
        embeddings = _unit_rows(embeddings)
        if not present.all():
            notes.append("vectors_missing")
            embeddings[~present] = _unit_rows(embeddings[present].mean(axis=0))

    categories = [
        category_key(c.category if c.category is not None else (r.category if r else None))
        for c, r in zip(cands, records, strict=True)
    ]
    brands = [
        brand_key(c.brand if c.brand is not None else (r.brand if r else None))
        for c, r in zip(cands, records, strict=True)
    ]
    category_codes, category_names = _codes(categories)
    brand_codes, brand_names = _codes(brands)
    scores = np.array([np.nan if c.score is None else c.score for c in cands], dtype=np.float32)
    prior = None
    if any(c.popularity is not None for c in cands):
        prior = np.array([c.popularity or 0.0 for c in cands], dtype=np.float32)
    candidates = Candidates(
        ids=[c.id for c in cands],
        scores=scores,
        embeddings=embeddings,
        categories=category_codes,
        brands=brand_codes,
        category_names=category_names,
        brand_names=brand_names,
        popularity=prior,
    )
    return candidates, notes


@dataclass
class _Part:
    interests: np.ndarray  # (m, d) unit rows
    weights: np.ndarray  # (m,), sums to 1 (or empty)
    centroid: np.ndarray | None
    categories: dict[str, float]
    brands: dict[str, float]
    items: dict[str, float] = field(default_factory=dict)
    repeat: float | None = None
    category_repeat: dict[str, float] = field(default_factory=dict)


def _shares(raw: dict[str, float], kind: Literal["category", "brand"]) -> dict[str, float]:
    """Histogram with normalised label keys, rescaled to shares that sum to 1."""
    normalise = category_key if kind == "category" else brand_key
    merged: dict[str, float] = {}
    for name, share in raw.items():
        label = normalise(name)
        if label is not None and share > 0:
            merged[label] = merged.get(label, 0.0) + share
    total = sum(merged.values())
    return {label: share / total for label, share in merged.items()} if total > 0 else {}


def _normalised_weights(weights: np.ndarray) -> np.ndarray:
    total = float(weights.sum())
    if weights.size and total > 0:
        return (weights / total).astype(np.float32)
    return np.full(weights.shape, 1.0 / max(weights.size, 1), dtype=np.float32)


def _stored_part(stored: StoredProfile, dim: int | None, notes: list[str]) -> _Part:
    interests = stored.interests
    weights = stored.interest_weights
    centroid = stored.centroid
    if dim is not None and stored.dimension is not None and stored.dimension != dim:
        notes.append("profile_dimension_mismatch")
        interests = np.zeros((0, dim), dtype=np.float32)
        weights = np.zeros(0, dtype=np.float32)
        centroid = None
    if interests.shape[0]:
        unit = _unit_rows(interests.astype(np.float32))
        keep = np.linalg.norm(unit, axis=1) > 0
        interests, weights = unit[keep], weights[keep]
    repeat = None if stored.repeats is None else shrunk_repeat_rate(*stored.repeats)
    return _Part(
        interests=interests,
        weights=_normalised_weights(weights),
        centroid=None if centroid is None else _unit_rows(centroid.astype(np.float32)),
        categories=_shares(stored.category_hist, "category"),
        brands=_shares(stored.brand_hist, "brand"),
        items=affinity_of(stored.item_weights),
        repeat=repeat,
        category_repeat=category_repeat_rates(_category_counts(stored), repeat or 0.0),
    )


def _category_counts(stored: StoredProfile) -> dict[str, tuple[int, int]]:
    """The stored per-category repeat counts under normalised category keys."""
    merged: dict[str, tuple[int, int]] = {}
    for name, (repeats, chances) in stored.category_repeats.items():
        label = category_key(name)
        if label is not None:
            r, n = merged.get(label, (0, 0))
            merged[label] = (r + repeats, n + chances)
    return merged


def _inline_part(
    vectors: Sequence[np.ndarray],
    labels: Sequence[ItemRecord],
    dim: int | None,
    item_ids: Sequence[str] = (),
    item_categories: Sequence[str | None] | None = None,
) -> _Part | None:
    usable = [v for v in vectors if v.shape[0] == dim]  # no candidate vectors: no use
    matrix = np.asarray(usable, dtype=np.float32).reshape(len(usable), dim or 0)
    categories = Counter(k for r in labels if (k := category_key(r.category)) is not None)
    brands = Counter(k for r in labels if (k := brand_key(r.brand)) is not None)
    keyed = None if item_categories is None else [category_key(c) for c in item_categories]
    profile = history_profile(matrix, categories, brands, item_ids=item_ids,
                              item_weights=[INLINE_EVENT_WEIGHT] * len(item_ids),
                              item_categories=keyed)  # fmt: skip
    if profile is None:
        return None
    return _Part(
        interests=profile.interests,
        weights=profile.interest_weights,
        centroid=profile.centroid,
        categories=profile.category_affinity,
        brands=profile.brand_affinity,
        items=profile.item_affinity,
        repeat=profile.repeat_rate if item_ids else None,
        category_repeat=profile.category_repeat_rate,
    )


def _mean_shares(hists: list[dict[str, float]]) -> dict[str, float]:
    hists = [h for h in hists if h]
    total: Counter[str] = Counter()
    for hist in hists:
        total.update(hist)
    return {label: share / len(hists) for label, share in total.items()}


def to_profile(
    stored: StoredProfile | None,
    history_vectors: Sequence[np.ndarray],
    history_records: Sequence[ItemRecord],
    dim: int | None,
    history_item_ids: Sequence[str] = (),
    history_item_categories: Sequence[str | None] | None = None,
) -> tuple[UserProfile | None, list[str]]:
    """One profile from a stored profile and/or inline history; None when there is nothing.

    ``history_item_ids``: the inline history's item ids, oldest first (its item memory), and
    ``history_item_categories`` their categories (None where unknown), one per id."""
    notes: list[str] = []
    parts: list[_Part] = []
    if stored is not None:
        parts.append(_stored_part(stored, dim, notes))
    vectors = [*history_vectors, *(r.embedding for r in history_records if r.embedding is not None)]
    inline = _inline_part(vectors, history_records, dim, history_item_ids,
                          history_item_categories)  # fmt: skip
    if inline is not None:
        parts.append(inline)
    parts = [p for p in parts if p.interests.shape[0] or p.categories or p.brands or p.items]
    if not parts:
        return None, notes

    with_vectors = [p for p in parts if p.interests.shape[0]]
    width = dim if dim is not None else (with_vectors[0].interests.shape[1] if with_vectors else 0)
    if with_vectors:
        interests = np.concatenate([p.interests for p in with_vectors]).astype(np.float32)
        weights = np.concatenate([p.weights / len(with_vectors) for p in with_vectors])
    else:
        interests = np.zeros((0, width), dtype=np.float32)
        weights = np.zeros(0, dtype=np.float32)
    centroids = [p.centroid for p in parts if p.centroid is not None]
    centroid = _unit_rows(np.sum(centroids, axis=0)).astype(np.float32) if centroids else None
    # the repeat habit comes from one history: the stored one when it has counts
    repeat = next((p for p in parts if p.repeat is not None), None)
    profile = UserProfile(
        interests=interests,
        interest_weights=weights.astype(np.float32),
        centroid=centroid,
        category_affinity=_mean_shares([p.categories for p in parts]),
        brand_affinity=_mean_shares([p.brands for p in parts]),
        item_affinity=_max_affinity([p.items for p in parts]),
        repeat_rate=repeat.repeat if repeat is not None and repeat.repeat is not None else 0.0,
        category_repeat_rate=repeat.category_repeat if repeat is not None else {},
    )
    return profile, notes


def _max_affinity(parts: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for items in parts:
        for item, a in items.items():
            out[item] = max(out.get(item, 0.0), a)
    return out


def _named_categories(query: str, category_names: Sequence[str]) -> frozenset[str]:
    """Category paths the query names at any level ("toner" names "printing/toner")."""
    paths_by_level: dict[str, set[str]] = {}
    for path in category_names:
        for level in path.split("/"):
            paths_by_level.setdefault(level, set()).add(path)
    named = detect_intent(query, (), paths_by_level).categories
    return frozenset(path for level in named for path in paths_by_level[level])


def to_knobs(request: RerankRequest, candidates: Candidates) -> Knobs:
    """The core's knobs, with the brands and categories the query names (explicit intent)."""
    knobs = request.knobs
    query = request.query or ""
    optional = {
        name: getattr(knobs, name)
        for name in ("duplicate_threshold", "dpp_window")
        if getattr(knobs, name) is not None
    }
    return Knobs(
        diversity=knobs.diversity,
        strategy=knobs.strategy,
        explain=knobs.explain,
        max_per_brand=knobs.max_per_brand,
        max_per_category=knobs.max_per_category,
        page_size=request.page_size,
        query_brands=detect_intent(query, candidates.brand_names, ()).brands,
        query_categories=_named_categories(query, candidates.category_names),
        **optional,
    )
