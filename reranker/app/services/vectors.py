"""Item embeddings and labels by id, for candidates (and history items) that arrive without them.

One batched search by ids per request for whatever the cache lacks; the vectors come from the
segment's vector values through the plugin's fetch sub-phase (:mod:`config.vector_fetch`), since
item indices keep them out of ``_source``. Cache keys carry the concrete
index behind the alias; the alias is re-resolved every ``alias_refresh_s`` and, when it points
somewhere new (a re-index swapped it), the cache is dropped, so vectors never outlive the index
they came from.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from config.vector_fetch import EXT_NAME, SEARCH_PARAMS, hit_vector, search_by_ids
from reranker.app.metrics import CACHE_LOOKUPS
from reranker.app.services.cache import BoundedCache
from reranker.app.services.opensearch import EngineConnection

__all__ = ["EMBEDDING_FIELD", "ItemRecord", "VectorStore", "parse_item"]

log = logging.getLogger(__name__)

EMBEDDING_FIELD = "embedding"
LABEL_FIELDS = ("category", "brand")


@dataclass(frozen=True)
class ItemRecord:
    embedding: np.ndarray | None  # (d,) float32, raw
    category: str | None = None
    brand: str | None = None


def _label(value: Any) -> str | None:
    if isinstance(value, list):  # a multi-valued field: the first value names the item
        value = value[0] if value else None
    return value if isinstance(value, str) and value.strip() else None


def parse_item(hit: dict[str, Any]) -> ItemRecord:
    """An item's record from a search hit (vector from the plugin's field or ``_source``); an
    unusable vector becomes None, never an error."""
    source = hit.get("_source") or {}
    embedding = hit_vector(hit, EMBEDDING_FIELD)
    return ItemRecord(embedding, _label(source.get("category")), _label(source.get("brand")))


CacheKey = tuple[str, str]


class VectorStore:
    def __init__(
        self,
        connection: EngineConnection,
        cache: BoundedCache[CacheKey, ItemRecord | None],
        alias_refresh_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connection = connection
        self._cache = cache
        self._refresh_s = alias_refresh_s
        self._clock = clock
        self._resolved: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        # False once the engine refuses the plugin's fetch extension (Elasticsearch, or an
        # OpenSearch without the divrank plugin): items are then read from ``_source``.
        self._fetch_ext = True

    def resolve(self, name: str) -> tuple[str, ...]:
        """Concrete indices behind ``name`` (itself when it is an index); () when absent."""
        now = self._clock()
        with self._lock:
            known = self._resolved.get(name)
        if known is not None and now - known[0] < self._refresh_s:
            return known[1]
        from opensearchpy import NotFoundError

        try:
            answer = self._connection.call(lambda client: client.indices.get_alias(index=name))
            concrete = tuple(sorted(answer))
        except NotFoundError:
            concrete = ()
        with self._lock:
            if known is not None and known[1] != concrete:
                self._cache.clear()  # the alias moved: cached vectors belong to the old index
            self._resolved[name] = (now, concrete)
        return concrete

    def fetch(self, index: str, ids: Iterable[str]) -> dict[str, ItemRecord]:
        """Records for the ids that exist in ``index``; raises ``LookupUnavailable`` on outage."""
        concrete = self.resolve(index)
        if not concrete:
            return {}
        scope = ",".join(concrete)
        found: dict[str, ItemRecord] = {}
        wanted: list[str] = []
        unique = list(dict.fromkeys(ids))
        for item_id, (hit, record) in zip(
            unique, self._cache.get_many([(scope, i) for i in unique]), strict=True
        ):
            if not hit:
                wanted.append(item_id)
            elif record is not None:
                found[item_id] = record
        CACHE_LOOKUPS.labels("vectors", "hit").inc(len(unique) - len(wanted))
        CACHE_LOOKUPS.labels("vectors", "miss").inc(len(wanted))
        if wanted:
            fetched = self._by_ids(concrete, wanted)
            for item_id in wanted:
                record = fetched.get(item_id)
                self._cache.put((scope, item_id), record)
                if record is not None:
                    found[item_id] = record
        return found

    def all_cached(self, index: str, ids: Iterable[str]) -> bool:
        """Whether ``fetch`` would answer from memory alone (fresh alias, every id cached): the
        caller can then skip the thread hand-off a network look-up needs."""
        with self._lock:
            known = self._resolved.get(index)
        if known is None or not known[1] or self._clock() - known[0] >= self._refresh_s:
            return False
        scope = ",".join(known[1])
        return all(hit for hit, _ in self._cache.get_many([(scope, i) for i in ids]))

    def preload(self, alias: str, batch: int = 1000) -> int:
        """Reads the items behind ``alias`` into the cache, up to its bound (the first ones the
        scroll returns when the alias holds more); returns how many. Raises
        ``LookupUnavailable`` when the engine does not answer."""
        concrete = self.resolve(alias)
        room = self._cache.maxsize
        if not concrete or room <= 0:
            return 0
        scope = ",".join(concrete)

        def read(client: Any) -> int:
            from opensearchpy import RequestError
            from opensearchpy.helpers import scan

            body: dict[str, Any] = {"query": {"match_all": {}}, "_source": list(LABEL_FIELDS)}
            if self._fetch_ext:
                body["ext"] = {EXT_NAME: {"field": EMBEDDING_FIELD}}
            else:
                body["_source"] = [EMBEDDING_FIELD, *LABEL_FIELDS]
            count = 0
            try:
                for hit in scan(client, query=body, index=scope, size=batch, request_timeout=60,
                                params=SEARCH_PARAMS):  # fmt: skip
                    if count >= room:
                        log.warning("%s holds more items than DIVRANK_VECTOR_CACHE_SIZE=%d: the "
                                    "rest is read on demand", alias, room)  # fmt: skip
                        break
                    self._cache.put((scope, hit["_id"]), parse_item(hit))
                    count += 1
            except RequestError:
                if not self._fetch_ext:
                    raise
                log.info("the engine refuses ext.divrank_vectors: preloading from _source")
                self._fetch_ext = False
                return read(client)
            return count

        loaded: int = self._connection.call(read)
        return loaded

    def _by_ids(self, concrete: tuple[str, ...], ids: list[str]) -> dict[str, ItemRecord]:
        hits = self._connection.call(lambda client: self._read(client, concrete, ids))
        records: dict[str, ItemRecord] = {}
        for hit in hits:
            if hit["_id"] not in records:
                records[hit["_id"]] = parse_item(hit)
        return records

    def _read(self, client: Any, concrete: tuple[str, ...], ids: list[str]) -> list[Any]:
        from opensearchpy import RequestError

        if self._fetch_ext:
            try:
                return search_by_ids(
                    client, ",".join(concrete), ids, EMBEDDING_FIELD, LABEL_FIELDS
                )
            except RequestError:
                log.info("the engine refuses ext.divrank_vectors: reading vectors from _source")
                self._fetch_ext = False
        docs = [{"_index": index, "_id": item_id} for item_id in ids for index in concrete]
        answer = client.mget(body={"docs": docs}, _source_includes=[EMBEDDING_FIELD, *LABEL_FIELDS])
        return [doc for doc in answer.get("docs", []) if doc.get("found")]
