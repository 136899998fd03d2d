"""The sidecar against the real engine: stored profiles and vectors looked up by id.

Builds a tiny item index and a profiles index with the indexer's own mappings (so the document
shapes are the ones the indexer writes), serves a sidecar on a loopback port and talks HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from opensearchpy import OpenSearch, helpers

from config.settings import Settings
from indexer.mapping import item_index_body, profile_index_body
from reranker.app.embedded import embedded_sidecar

pytestmark = pytest.mark.integration

DIM = 4


def _unit(*values: float) -> list[float]:
    vec = np.asarray(values, dtype=np.float64)
    return [float(x) for x in vec / np.linalg.norm(vec)]


# Four items: "a2" is a near-copy of "a"; "b", "c" point elsewhere.
ITEMS_V1 = {
    "a": (_unit(1, 0, 0, 0), "printing/toner", "hp"),
    "a2": (_unit(0.99, 0.141, 0, 0), "printing/toner", "hp"),
    "b": (_unit(0, 1, 0, 0), "computers/laptops", "acme"),
    "c": (_unit(0, 0, 1, 0), "audio/headphones", "sony"),
    "d": (_unit(0, 0, 0.6, 0.8), "audio/speakers", "sony"),
    "e": (_unit(0, 0, 0, 1), "audio/speakers", "acme"),
}
# The re-indexed catalog: "a2" is no longer a copy of "a".
ITEMS_V2 = {**ITEMS_V1, "a2": (_unit(0, 0, 0, 1), "printing/toner", "hp")}

LOVES_E = {
    "user_id": "u-loves-e",
    "interests": [_unit(0, 0, 0, 1)],
    "interest_weights": [1.0],
    "centroid": _unit(0, 0, 0, 1),
    "category_hist": {"audio/speakers": 1.0},
    "brand_hist": {"acme": 1.0},
    "recent_item_ids": ["e"],
    "updated_at": "2025-01-01T00:00:00Z",
}


@dataclass
class Fixture:
    client: OpenSearch
    items_alias: str
    profiles_alias: str
    prefix: str
    http: httpx.Client


def _create(client: OpenSearch, name: str, body: dict[str, Any]) -> None:
    client.indices.create(index=name, body=body)


def _load_items(client: OpenSearch, index: str, items: dict[str, Any]) -> None:
    actions = [
        {
            "_index": index,
            "_id": item_id,
            "_source": {"title": item_id, "embedding": vec, "category": cat, "brand": brand},
        }
        for item_id, (vec, cat, brand) in items.items()
    ]
    helpers.bulk(client, actions)
    client.indices.refresh(index=index)


@pytest.fixture(scope="module")
def world(engine: str) -> Iterator[Fixture]:
    prefix = f"t-sidecar-{uuid.uuid4().hex[:8]}"
    client = OpenSearch(hosts=[engine], timeout=30)
    items_alias, profiles_alias = f"{prefix}-items", f"{prefix}-profiles"
    created: list[str] = []
    try:
        _create(client, f"{items_alias}-v1", item_index_body(DIM, {"alias": items_alias}))
        created.append(f"{items_alias}-v1")
        _load_items(client, f"{items_alias}-v1", ITEMS_V1)
        _create(client, f"{profiles_alias}-v1", profile_index_body(DIM, {"alias": profiles_alias}))
        created.append(f"{profiles_alias}-v1")
        client.index(index=f"{profiles_alias}-v1", id=LOVES_E["user_id"], body=LOVES_E)
        client.indices.refresh(index=f"{profiles_alias}-v1")
        client.indices.put_alias(index=f"{items_alias}-v1", name=items_alias)
        client.indices.put_alias(index=f"{profiles_alias}-v1", name=profiles_alias)
        settings = Settings(
            opensearch_url=engine,
            profiles_alias=profiles_alias,
            sidecar_lookups=True,
            alias_refresh_s=0.0,  # re-resolve on every request: the swap test needs it
            lookup_timeout_s=10.0,
            token=None,
        )
        with (
            embedded_sidecar(settings) as sidecar,
            httpx.Client(base_url=sidecar.url, timeout=30.0) as http,
        ):
            yield Fixture(client, items_alias, profiles_alias, prefix, http)
    finally:
        for name in [*created, f"{items_alias}-v2"]:
            client.indices.delete(index=name, ignore_unavailable=True)
        client.close()


def _candidates(with_vectors: bool = True, labels: bool = True) -> list[dict[str, Any]]:
    scores = {"a": 6.0, "a2": 5.5, "b": 5.0, "c": 4.5, "d": 4.0, "e": 3.5}
    out = []
    for item_id, (vec, cat, brand) in ITEMS_V1.items():
        cand: dict[str, Any] = {"id": item_id, "score": scores[item_id]}
        if with_vectors:
            cand["embedding"] = vec
        if labels:
            cand.update(category=cat, brand=brand)
        out.append(cand)
    return out


def _rerank(world: Fixture, **body: Any) -> dict[str, Any]:
    response = world.http.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_ready_with_the_engine(world: Fixture) -> None:
    response = world.http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["opensearch"] == "ok"


def test_stored_profile_changes_the_order(world: Fixture) -> None:
    knobs = {"diversity": 0.0, "strategy": "personalized"}
    anonymous = _rerank(world, candidates=_candidates(), k=4, knobs=knobs)
    assert anonymous["ids"] == ["a", "a2", "b", "c"]  # no user, no diversity: engine order
    unknown = _rerank(world, candidates=_candidates(), k=4, knobs=knobs, user={"id": "u-nobody"})
    assert unknown["ids"] == anonymous["ids"] and "degraded" not in unknown
    loved = _rerank(world, candidates=_candidates(), k=4, knobs=knobs, user={"id": "u-loves-e"})
    assert "degraded" not in loved
    # the stored interest (speakers, acme) pulls a speaker from ranks 5-6 onto the page
    assert not {"d", "e"} & set(anonymous["ids"])
    assert {"d", "e"} & set(loved["ids"])


def test_missing_embeddings_are_fetched_by_id(world: Fixture) -> None:
    knobs = {"diversity": 1.0, "strategy": "mmr"}
    bare = _candidates(with_vectors=False, labels=False)
    blind = _rerank(world, candidates=bare, k=3, knobs=knobs)
    looked_up = _rerank(world, candidates=bare, k=3, knobs=knobs, index=world.items_alias)
    carried = _rerank(world, candidates=_candidates(), k=3, knobs=knobs)
    assert blind["ids"][:2] == ["a", "a2"]  # without vectors the near-copy is not seen
    assert "a2" not in looked_up["ids"]  # with them it is pushed off the page
    assert looked_up["ids"] == carried["ids"]
    np.testing.assert_allclose(looked_up["scores"], carried["scores"], rtol=1e-5)
    assert "degraded" not in looked_up


def test_vector_cache_is_used_then_dropped_on_alias_swap(world: Fixture) -> None:
    knobs = {"diversity": 1.0, "strategy": "mmr"}
    bare = _candidates(with_vectors=False, labels=False)
    before = _cache_hits(world)
    first = _rerank(world, candidates=bare, k=3, knobs=knobs, index=world.items_alias)
    assert _cache_hits(world) - before == len(bare)  # all six served from the cache
    assert "a2" not in first["ids"]

    v2 = f"{world.items_alias}-v2"
    _create(world.client, v2, item_index_body(DIM, {"alias": world.items_alias}))
    _load_items(world.client, v2, ITEMS_V2)
    world.client.indices.update_aliases(
        body={
            "actions": [
                {"remove": {"index": f"{world.items_alias}-v1", "alias": world.items_alias}},
                {"add": {"index": v2, "alias": world.items_alias}},
            ]
        }
    )
    swapped = _rerank(world, candidates=bare, k=3, knobs=knobs, index=world.items_alias)
    assert swapped["ids"][:2] == ["a", "a2"]  # in v2 "a2" is no copy: it keeps its place


def test_history_item_ids_are_looked_up(world: Fixture) -> None:
    knobs = {"diversity": 0.0, "strategy": "personalized"}
    plain = _rerank(world, candidates=_candidates(), k=4, knobs=knobs, index=world.items_alias)
    with_history = _rerank(
        world,
        candidates=_candidates(),
        k=4,
        knobs=knobs,
        index=world.items_alias,
        user={"history": {"item_ids": ["e", "missing-id"]}},
    )
    assert plain["ids"] == ["a", "a2", "b", "c"]
    assert {"d", "e"} & set(with_history["ids"])  # "e" was looked up: its vector and labels


def _cache_hits(world: Fixture) -> float:
    for line in world.http.get("/metrics").text.splitlines():
        if line.startswith('divrank_cache_lookups_total{cache="vectors",result="hit"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
