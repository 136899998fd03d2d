"""Profile and vector look-ups against a fake client: parsing, caching, alias swaps, outages."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from opensearchpy import NotFoundError, RequestError

from config.settings import Settings
from reranker.app.services.cache import BoundedCache
from reranker.app.services.opensearch import EngineConnection, LookupUnavailable
from reranker.app.services.profiles import (
    ProfileInvalid,
    ProfileStore,
    parse_profile,
)
from reranker.app.services.vectors import VectorStore, parse_item

GOOD_PROFILE = {
    "user_id": "u1",
    "interests": [[1.0, 0.0], [0.0, 1.0]],
    "interest_weights": [0.7, 0.3],
    "centroid": [0.5, 0.5],
    "category_hist": {"printing": 0.6, "audio": 0.4},
    "brand_hist": {"hp": 1.0},
    "item_weights": {"sku1": 16.0},
    "repeats": 1,
    "repeat_chances": 4,
    "category_repeats": {"printing": [1, 3]},
    "recent_item_ids": ["i1"],
    "updated_at": "2025-01-01T00:00:00Z",
}


class FakeIndices:
    def __init__(self, aliases: dict[str, list[str]]) -> None:
        self.aliases = aliases
        self.calls = 0

    def get_alias(self, index: str) -> dict[str, Any]:
        self.calls += 1
        if index not in self.aliases:
            raise NotFoundError(404, "index_not_found_exception", {})
        return {concrete: {"aliases": {}} for concrete in self.aliases[index]}


class FakeClient:
    def __init__(self, docs: dict[tuple[str, str], dict[str, Any]], aliases: dict[str, list[str]]):
        self.docs = docs
        self.indices = FakeIndices(aliases)
        self.search_calls: list[list[str]] = []
        self.get_calls = 0

    def mget(self, body: dict[str, Any], index: str | None = None, **_: Any) -> dict[str, Any]:
        if index is not None:  # the profile form: {"ids": [...]} against an alias
            self.get_calls += 1
            concrete = self.indices.get_alias(index)
            found = [
                {"_id": i, "found": True, "_source": self.docs[(c, i)]}
                for i in body["ids"]
                for c in concrete
                if (c, i) in self.docs
            ]
            return {"docs": found or [{"_id": body["ids"][0], "found": False}]}
        raise AssertionError("items are read by search, not mget")

    def search(self, index: str, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        assert params == {"search_pipeline": "_none"}  # never through the divrank pipeline
        assert body["ext"] == {"divrank_vectors": {"field": "embedding"}}
        ids = body["query"]["ids"]["values"]
        self.search_calls.append(ids)
        hits = [
            {"_index": c, "_id": i, "_source": self.docs[(c, i)]}
            for c in index.split(",")
            for i in ids
            if (c, i) in self.docs
        ]
        return {"hits": {"hits": hits}}


class FakeConnection:
    def __init__(self, client: FakeClient) -> None:
        self.client = client

    def call(self, operation: Callable[[Any], Any]) -> Any:
        return operation(self.client)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_parse_profile_accepts_the_agreed_shape() -> None:
    profile = parse_profile(GOOD_PROFILE)
    assert profile.interests.shape == (2, 2) and profile.dimension == 2
    np.testing.assert_allclose(profile.interest_weights, [0.7, 0.3])
    assert profile.category_hist == {"printing": 0.6, "audio": 0.4}
    assert profile.item_weights == {"sku1": 16.0} and profile.repeats == (1, 4)
    assert profile.category_repeats == {"printing": (1, 3)}
    memory = ("item_weights", "repeats", "repeat_chances", "category_repeats")
    old = {k: v for k, v in GOOD_PROFILE.items() if k not in memory}
    assert parse_profile(old).repeats is None  # built before item memory: still served
    assert parse_profile(old).category_repeats == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("interests", [[1.0, 0.0], [1.0]], "interests"),
        ("interests", [[1.0, "x"]], "interests"),
        ("interest_weights", [1.0], "interest_weights"),
        ("interest_weights", [1.0, -1.0], "interest_weights"),
        ("centroid", [1.0, 2.0, 3.0], "dimension"),
        ("category_hist", ["printing"], "category_hist"),
        ("brand_hist", {"hp": "lots"}, "brand_hist"),
        ("item_weights", {"sku1": -1.0}, "item_weights"),
        ("repeats", -1, "repeats"),
        ("repeats", 9, "repeats exceeds repeat_chances"),
        ("category_repeats", ["printing"], "category_repeats is not an object"),
        ("category_repeats", {"printing": [1]}, r"category_repeats\['printing'\]"),
        ("category_repeats", {"printing": [4, 3]}, "repeats exceeds repeat_chances"),
    ],
)
def test_parse_profile_names_what_is_wrong(field: str, value: Any, message: str) -> None:
    with pytest.raises(ProfileInvalid, match=message):
        parse_profile({**GOOD_PROFILE, field: value})


def test_profile_store_caches_hits_and_misses() -> None:
    client = FakeClient({("profiles-v1", "u1"): GOOD_PROFILE}, {"profiles": ["profiles-v1"]})
    store = ProfileStore(FakeConnection(client), "profiles", BoundedCache(10, 60.0))
    assert store.get("u1") is not None
    assert store.get("u1") is not None
    assert store.get("stranger") is None
    assert store.get("stranger") is None
    assert client.get_calls == 2  # one per user, then cached


def test_profile_store_without_index_means_no_profile() -> None:
    store = ProfileStore(FakeConnection(FakeClient({}, {})), "profiles", BoundedCache(10))
    assert store.get("u1") is None


def test_profile_store_reports_a_malformed_document() -> None:
    client = FakeClient({("p", "u1"): {**GOOD_PROFILE, "interests": "bad"}}, {"p": ["p"]})
    store = ProfileStore(FakeConnection(client), "p", BoundedCache(10))
    for _ in range(2):  # also when served from the cache
        with pytest.raises(ProfileInvalid):
            store.get("u1")
    assert client.get_calls == 1


def _item(vec: list[float], category: str = "audio", brand: str = "sony") -> dict[str, Any]:
    return {"embedding": vec, "category": category, "brand": brand}


def test_vector_store_batches_only_what_the_cache_lacks() -> None:
    docs = {("items-v1", f"i{i}"): _item([float(i), 1.0]) for i in range(4)}
    client = FakeClient(docs, {"items": ["items-v1"]})
    store = VectorStore(FakeConnection(client), BoundedCache(100), alias_refresh_s=60.0)
    first = store.fetch("items", ["i0", "i1", "nope"])
    assert set(first) == {"i0", "i1"}
    second = store.fetch("items", ["i0", "i1", "i2", "nope"])
    assert set(second) == {"i0", "i1", "i2"}
    assert len(client.search_calls) == 2
    assert client.search_calls[1] == ["i2"]  # cached hits and misses skipped
    np.testing.assert_allclose(second["i2"].embedding, [2.0, 1.0])


def test_alias_swap_drops_cached_vectors() -> None:
    clock = Clock()
    docs = {
        ("items-v1", "i0"): _item([1.0, 0.0]),
        ("items-v2", "i0"): _item([0.0, 1.0]),
    }
    client = FakeClient(docs, {"items": ["items-v1"]})
    cache: BoundedCache[Any, Any] = BoundedCache(100)
    store = VectorStore(FakeConnection(client), cache, alias_refresh_s=30.0, clock=clock)
    np.testing.assert_allclose(store.fetch("items", ["i0"])["i0"].embedding, [1.0, 0.0])
    client.indices.aliases["items"] = ["items-v2"]
    clock.now = 10.0  # not re-resolved yet: the old index still answers from the cache
    np.testing.assert_allclose(store.fetch("items", ["i0"])["i0"].embedding, [1.0, 0.0])
    clock.now = 31.0
    np.testing.assert_allclose(store.fetch("items", ["i0"])["i0"].embedding, [0.0, 1.0])
    assert len(cache) == 1  # the old index's entry was dropped, the new one cached


def test_unknown_index_gives_no_records() -> None:
    store = VectorStore(FakeConnection(FakeClient({}, {})), BoundedCache(10), 60.0)
    assert store.fetch("nope", ["a"]) == {}


def test_parse_item_tolerates_bad_vectors_and_lists() -> None:
    assert parse_item({"_source": {"embedding": [1.0, float("nan")]}}).embedding is None
    assert parse_item({"_source": {"embedding": [[1.0], [2.0]]}}).embedding is None
    assert parse_item({"_source": {"embedding": "x"}}).embedding is None
    item = parse_item({"_source": {"embedding": [1, 2], "category": ["a/b", "c"], "brand": " "}})
    assert item.embedding is not None and item.embedding.dtype == np.float32
    assert item.category == "a/b" and item.brand is None


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_engine_backs_off_then_retries() -> None:
    clock = Clock()
    settings = Settings(
        opensearch_url=f"http://127.0.0.1:{_closed_port()}",
        lookup_backoff_s=5.0,
        lookup_timeout_s=0.5,
    )
    connection = EngineConnection(settings, clock=clock)
    calls = []

    def info(client: Any) -> Any:
        calls.append(1)
        return client.info()

    with pytest.raises(LookupUnavailable):
        connection.call(info)
    assert connection.backing_off()
    clock.now = 4.0
    with pytest.raises(LookupUnavailable, match="backing off"):
        connection.call(info)
    assert len(calls) == 1  # skipped without touching the network
    clock.now = 6.0
    with pytest.raises(LookupUnavailable):
        connection.call(info)
    assert len(calls) == 2
    assert connection.ping() is False
    connection.close()


def test_parse_item_prefers_the_plugins_binary_vector() -> None:
    raw = base64.b64encode(np.asarray([0.5, -1.0], dtype="<f4").tobytes()).decode()
    hit = {"_source": {"category": "audio"}, "fields": {"_divrank_vector": [raw]}}
    item = parse_item(hit)
    assert item.embedding is not None
    np.testing.assert_array_equal(item.embedding, [0.5, -1.0])
    assert parse_item({"fields": {"_divrank_vector": ["not base64!"]}}).embedding is None
    assert parse_item({"fields": {"_divrank_vector": ["AAA="]}}).embedding is None  # 2 bytes


class NoExtClient(FakeClient):
    """An engine without the divrank plugin (Elasticsearch): the fetch extension is a 400."""

    def search(self, index: str, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        self.search_calls.append(body["query"]["ids"]["values"])
        raise RequestError(400, "parsing_exception", "unknown key [divrank_vectors] in ext")

    def mget(self, body: dict[str, Any], index: str | None = None, **_: Any) -> dict[str, Any]:
        docs = [
            {"_id": d["_id"], "found": (d["_index"], d["_id"]) in self.docs,
             "_source": self.docs.get((d["_index"], d["_id"]))}
            for d in body["docs"]
        ]  # fmt: skip
        return {"docs": docs}


def test_engine_without_the_fetch_extension_is_read_from_source() -> None:
    docs = {("items-v1", f"i{i}"): _item([float(i), 1.0]) for i in range(3)}
    client = NoExtClient(docs, {"items": ["items-v1"]})
    store = VectorStore(FakeConnection(client), BoundedCache(100), alias_refresh_s=60.0)
    first = store.fetch("items", ["i0", "nope"])
    assert set(first) == {"i0"}
    np.testing.assert_allclose(first["i0"].embedding, [0.0, 1.0])
    assert set(store.fetch("items", ["i1", "i2"])) == {"i1", "i2"}
    assert len(client.search_calls) == 1  # refused once, then straight to _source


def test_get_many_is_get_for_each_key() -> None:
    clock = Clock()
    cache: BoundedCache[str, int] = BoundedCache(3, ttl_s=10.0, clock=clock)
    cache.put("a", 1)
    clock.now = 5.0
    cache.put("b", 2)
    clock.now = 12.0  # "a" is stale, "b" fresh
    assert cache.get_many(["a", "b", "c"]) == [(False, None), (True, 2), (False, None)]
    assert len(cache) == 1  # the stale entry was dropped, as get drops it


def test_all_cached_answers_without_the_network() -> None:
    clock = Clock()
    docs = {("items-v1", f"i{i}"): _item([float(i), 1.0]) for i in range(3)}
    client = FakeClient(docs, {"items": ["items-v1"]})
    store = VectorStore(FakeConnection(client), BoundedCache(100), alias_refresh_s=30.0,
                        clock=clock)  # fmt: skip
    assert not store.all_cached("items", ["i0"])  # never resolved: a look-up is needed
    store.fetch("items", ["i0", "i1"])
    assert store.all_cached("items", ["i0", "i1"])
    assert not store.all_cached("items", ["i0", "i2"])  # i2 not read yet
    clock.now = 31.0
    assert not store.all_cached("items", ["i0", "i1"])  # the alias is due to be re-resolved
    assert len(client.search_calls) == 1


def test_profile_store_says_when_it_answers_from_memory() -> None:
    clock = Clock()
    client = FakeClient({("profiles-v1", "u1"): GOOD_PROFILE}, {"profiles": ["profiles-v1"]})
    store = ProfileStore(FakeConnection(client), "profiles", BoundedCache(10, 60.0, clock=clock))
    assert not store.cached("u1") and not store.cached("stranger")
    store.get("u1")
    store.get("stranger")
    assert store.cached("u1") and store.cached("stranger")  # found, and known absent
    clock.now = 61.0
    assert not store.cached("u1")  # expired: the next get reads the engine
    assert client.get_calls == 2


def _rerank_request(user: dict[str, Any] | None) -> Any:
    from reranker.app.validation import Limits, parse_rerank_request

    body: dict[str, Any] = {
        "index": "items",
        "candidates": [{"id": "i0", "score": 1.0, "embedding": [1.0, 0.0]}],
        "k": 1,
    }
    if user is not None:
        body["user"] = user
    return parse_rerank_request(json.dumps(body).encode(), Limits(100, 4096))


def test_only_uncached_look_ups_leave_the_event_loop() -> None:
    from reranker.app.services.reranking import Reranker

    docs = {("items-v1", "h1"): _item([0.0, 1.0])}
    client = FakeClient(docs, {"items": ["items-v1"], "profiles": ["profiles-v1"]})
    client.docs[("profiles-v1", "u1")] = GOOD_PROFILE
    profiles = ProfileStore(FakeConnection(client), "profiles", BoundedCache(10, 60.0))
    vectors = VectorStore(FakeConnection(client), BoundedCache(100), alias_refresh_s=30.0)
    reranker = Reranker(model=None, profiles=profiles, vectors=vectors)  # type: ignore[arg-type]
    anonymous = _rerank_request(None)
    known = _rerank_request({"id": "u1"})
    with_history = _rerank_request({"id": "u1", "history": {"item_ids": ["h1"]}})
    assert not reranker.may_block(anonymous)  # pure CPU: the candidates carry their vectors
    assert reranker.may_block(known)  # profile not read yet
    profiles.get("u1")
    assert not reranker.may_block(known)
    assert reranker.may_block(with_history)  # history item not read yet
    vectors.fetch("items", ["h1"])
    assert not reranker.may_block(with_history)
