"""Stored user profiles, read by user id from the profiles alias and cached (LRU with TTL).

Document shape (written by the indexer, ``_id`` = user id)::

    {"user_id": str, "interests": [[float]*d]*m, "interest_weights": [float]*m,
     "centroid": [float]*d, "category_hist": {name: share}, "brand_hist": {name: share},
     "recent_item_ids": [str], "updated_at": iso8601}

A missing profile (or a missing profiles index) means "no personalization", never an error.
Absent users are cached too, so an anonymous-heavy load does not hit the engine per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reranker.app.metrics import CACHE_LOOKUPS
from reranker.app.services.cache import BoundedCache
from reranker.app.services.opensearch import EngineConnection

__all__ = ["ProfileInvalid", "ProfileStore", "StoredProfile", "parse_profile"]

PROFILE_FIELDS = [
    "interests",
    "interest_weights",
    "centroid",
    "category_hist",
    "brand_hist",
    "item_weights",
    "repeats",
    "repeat_chances",
    "category_repeats",
]


class ProfileInvalid(ValueError):
    """The stored document does not have the agreed shape; treated as no profile, degraded."""


@dataclass(frozen=True)
class StoredProfile:
    interests: np.ndarray  # (m, d) float32, raw (not yet normalised)
    interest_weights: np.ndarray  # (m,) float32, non-negative
    centroid: np.ndarray | None  # (d,) float32
    category_hist: dict[str, float] = field(default_factory=dict)
    brand_hist: dict[str, float] = field(default_factory=dict)
    item_weights: dict[str, float] = field(default_factory=dict)  # item id -> summed weight
    repeats: tuple[int, int] | None = None  # (repeats, chances); None: built before they were
    # the same (repeats, chances) per category
    category_repeats: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def dimension(self) -> int | None:
        if self.interests.shape[0]:
            return int(self.interests.shape[1])
        return None if self.centroid is None else int(self.centroid.shape[0])


def _histogram(raw: Any, name: str) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProfileInvalid(f"{name} is not an object")
    hist: dict[str, float] = {}
    for key, share in raw.items():
        if not isinstance(share, int | float) or not math.isfinite(share) or share < 0:
            raise ProfileInvalid(f"{name}[{key!r}] is not a finite share >= 0")
        hist[str(key)] = float(share)
    return hist


def _matrix(raw: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(raw if raw is not None else [], dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ProfileInvalid(f"{name} is not a list of equal-length number lists") from exc
    if arr.size == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if arr.ndim != 2 or not np.isfinite(arr).all():
        raise ProfileInvalid(f"{name} is not a finite (m, d) matrix")
    return arr


def parse_profile(source: dict[str, Any]) -> StoredProfile:
    """Check a profile document's shape; raises ``ProfileInvalid`` saying what is wrong."""
    interests = _matrix(source.get("interests"), "interests")
    m = interests.shape[0]
    raw_weights = source.get("interest_weights")
    if raw_weights is None or m == 0:
        weights = np.ones(m, dtype=np.float32)
    else:
        weights = _matrix([raw_weights], "interest_weights").reshape(-1)
        if weights.shape[0] != m or (weights < 0).any():
            raise ProfileInvalid("interest_weights needs one share >= 0 per interest")
    centroid = None
    if source.get("centroid") is not None:
        centroid = _matrix([source["centroid"]], "centroid").reshape(-1)
        if centroid.size == 0:
            centroid = None
        elif m and centroid.shape[0] != interests.shape[1]:
            raise ProfileInvalid("centroid and interests differ in dimension")
    return StoredProfile(
        interests=interests,
        interest_weights=weights,
        centroid=centroid,
        category_hist=_histogram(source.get("category_hist"), "category_hist"),
        brand_hist=_histogram(source.get("brand_hist"), "brand_hist"),
        item_weights=_histogram(source.get("item_weights"), "item_weights"),
        repeats=_repeats(source.get("repeats"), source.get("repeat_chances")),
        category_repeats=_category_repeats(source.get("category_repeats")),
    )


def _category_repeats(raw: Any) -> dict[str, tuple[int, int]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProfileInvalid("category_repeats is not an object")
    out: dict[str, tuple[int, int]] = {}
    for category, pair in raw.items():
        if not isinstance(pair, list) or len(pair) != 2:
            raise ProfileInvalid(f"category_repeats[{category!r}] is not [repeats, chances]")
        try:
            counts = _repeats(pair[0], pair[1])
        except ProfileInvalid as exc:
            raise ProfileInvalid(f"category_repeats[{category!r}]: {exc}") from exc
        assert counts is not None
        out[str(category)] = counts
    return out


def _repeats(repeats: Any, chances: Any) -> tuple[int, int] | None:
    if repeats is None and chances is None:
        return None
    for name, value in (("repeats", repeats), ("repeat_chances", chances)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ProfileInvalid(f"{name} is not a count >= 0")
    if repeats > chances:
        raise ProfileInvalid("repeats exceeds repeat_chances")
    return int(repeats), int(chances)


_INVALID = "invalid"


class ProfileStore:
    def __init__(
        self, connection: EngineConnection, alias: str, cache: BoundedCache[str, Any]
    ) -> None:
        self._connection = connection
        self._alias = alias
        self._cache = cache

    def cached(self, user_id: str) -> bool:
        """Whether ``get`` would answer from memory (a fresh entry, found or known absent): the
        caller can then skip the thread hand-off a network look-up needs."""
        hit, _ = self._cache.get(user_id)
        return hit

    def get(self, user_id: str) -> StoredProfile | None:
        """The stored profile, or None when the user has none.

        Raises ``LookupUnavailable`` when the engine does not answer and ``ProfileInvalid``
        when the stored document is malformed.
        """
        hit, cached = self._cache.get(user_id)
        CACHE_LOOKUPS.labels("profiles", "hit" if hit else "miss").inc()
        if not hit:
            cached = self._fetch(user_id)
            self._cache.put(user_id, cached)
        if isinstance(cached, str):
            raise ProfileInvalid(f"stored profile of this user is malformed ({cached})")
        return cached

    def _fetch(self, user_id: str) -> StoredProfile | str | None:
        from opensearchpy import NotFoundError

        # mget, not GET /_doc/<id>: the user id travels in the body, so it never appears in
        # a URL that the client library logs, and an absent user is "found: false", not a 404.
        try:
            answer = self._connection.call(
                lambda client: client.mget(
                    index=self._alias, body={"ids": [user_id]}, _source_includes=PROFILE_FIELDS
                )
            )
        except NotFoundError:  # no profiles index yet
            return None
        docs = answer.get("docs") or [{}]
        doc = docs[0]
        if not doc.get("found"):
            return None
        try:
            return parse_profile(doc.get("_source") or {})
        except ProfileInvalid as exc:
            return f"{_INVALID}: {exc}"
