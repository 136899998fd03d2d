"""DIVRANK_PRELOAD_VECTORS against the real engine: the alias's vectors are read at start and
again after an alias swap, so windows without vectors (the plugin's ``send_embeddings: false``)
are served from memory, through the sidecar alone and through the real pipeline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from opensearchpy import OpenSearch, helpers

from cli import pipeline
from config.settings import Settings
from indexer.mapping import item_index_body
from reranker.app.embedded import EmbeddedSidecar, embedded_sidecar

pytestmark = pytest.mark.integration

DIM = 8
N_ITEMS = 40


@dataclass
class World:
    client: OpenSearch
    alias: str
    sidecar: EmbeddedSidecar
    http: httpx.Client


def _vectors(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(N_ITEMS, DIM))
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def _index(client: OpenSearch, name: str, alias: str, seed: int) -> None:
    client.indices.create(index=name, body=item_index_body(DIM, {"alias": alias}))
    actions = [
        {"_index": name, "_id": f"i{i}",
         "_source": {"title": f"toner {i}", "embedding": [float(x) for x in vec],
                     "category": f"printing/c{i % 4}", "brand": f"b{i % 5}"}}
        for i, vec in enumerate(_vectors(seed))
    ]  # fmt: skip
    helpers.bulk(client, actions)
    client.indices.refresh(index=name)


def _metric(http: httpx.Client, prefix: str) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _misses(http: httpx.Client) -> float:
    return _metric(http, 'divrank_cache_lookups_total{cache="vectors",result="miss"}')


def _wait_for(check: object, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def world(engine: str) -> Iterator[World]:
    prefix = f"t-preload-{uuid.uuid4().hex[:8]}"
    alias = f"{prefix}-items"
    client = OpenSearch(hosts=[engine], timeout=30)
    try:
        _index(client, f"{alias}-v1", alias, seed=1)
        client.indices.put_alias(index=f"{alias}-v1", name=alias)
        settings = Settings(opensearch_url=engine, sidecar_lookups=True, preload_vectors=alias,
                            alias_refresh_s=1.0, lookup_timeout_s=10.0, token=None)  # fmt: skip
        with (
            embedded_sidecar(settings) as sidecar,
            httpx.Client(base_url=sidecar.url, timeout=30.0) as http,
        ):
            yield World(client, alias, sidecar, http)
    finally:
        client.indices.delete(index=f"{alias}-v1,{alias}-v2", ignore_unavailable=True)
        client.close()


def _ready(http: httpx.Client) -> bool:
    answer = http.get("/readyz")
    return answer.status_code == 200 and answer.json()["checks"]["vectors"] == "ok"


def test_windows_without_vectors_are_served_from_the_preload(world: World) -> None:
    _wait_for(lambda: _ready(world.http), "the preload")
    v1 = f"{world.alias}-v1"
    assert _metric(world.http, f'divrank_preloaded_vectors_total{{index="{v1}"}}') == N_ITEMS
    vectors = _vectors(1)
    scores = np.linspace(9, 1, N_ITEMS)
    bare = [{"id": f"i{i}", "score": float(scores[i]), "brand": f"b{i % 5}"}
            for i in range(N_ITEMS)]  # fmt: skip
    carried = [dict(c, embedding=[float(x) for x in vectors[i]]) for i, c in enumerate(bare)]
    knobs = {"diversity": 0.8, "strategy": "mmr"}
    misses = _misses(world.http)
    looked_up = world.http.post("/v1/rerank", json={"candidates": bare, "k": 10, "index": v1,
                                                    "knobs": knobs}).json()  # fmt: skip
    assert _misses(world.http) == misses, "every vector came from the preload"
    sent = world.http.post("/v1/rerank", json={"candidates": carried, "k": 10, "knobs": knobs})
    assert looked_up["ids"] == sent.json()["ids"]
    assert "degraded" not in looked_up

    # through the real plugin: the window leaves its vectors in the engine
    name = f"{world.alias}-lookup"
    pipeline.install(world.client, pipeline.PipelineConfig(
        name=name, sidecar_url=world.sidecar.url, read_timeout_ms=5000, send_embeddings=False))
    try:
        misses = _misses(world.http)
        page = world.client.search(index=world.alias, params={"search_pipeline": name}, body={
            "size": 10, "query": {"match": {"title": "toner"}},
            "ext": {"divrank": {"diversity": 0.8, "strategy": "mmr"}}})  # fmt: skip
        assert page["ext"]["divrank"]["applied"] is True, page["ext"]
        assert len(page["hits"]["hits"]) == 10
        assert _misses(world.http) == misses
    finally:
        pipeline.delete(world.client, name)


def test_an_alias_swap_is_read_again(world: World) -> None:
    _wait_for(lambda: _ready(world.http), "the preload")
    v2 = f"{world.alias}-v2"
    _index(world.client, v2, world.alias, seed=2)
    world.client.indices.update_aliases(body={"actions": [
        {"remove": {"index": f"{world.alias}-v1", "alias": world.alias}},
        {"add": {"index": v2, "alias": world.alias}}]})  # fmt: skip
    counter = f'divrank_preloaded_vectors_total{{index="{v2}"}}'
    _wait_for(lambda: _metric(world.http, counter) == N_ITEMS, "the re-read after the swap")
    misses = _misses(world.http)
    bare = [{"id": f"i{i}", "score": float(N_ITEMS - i)} for i in range(N_ITEMS)]
    answer = world.http.post("/v1/rerank", json={"candidates": bare, "k": 10, "index": v2,
                                                 "knobs": {"diversity": 1.0}})  # fmt: skip
    assert answer.status_code == 200 and "degraded" not in answer.json()
    assert _misses(world.http) == misses
