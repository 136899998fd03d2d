"""The engine the project starts is real: OpenSearch 3.x with k-NN (lucene HNSW) and our plugin."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from opensearchpy import OpenSearch

from cli.nodes import opensearch as engine_ctl
from config.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture()
def client(engine: str) -> OpenSearch:
    return OpenSearch(engine, timeout=30)


def test_engine_is_green_with_both_plugins(engine: str, client: OpenSearch) -> None:
    assert engine_ctl.health(engine) == "green"
    components = {row["component"] for row in client.cat.plugins(format="json")}
    assert {"opensearch-knn", "divrank"} <= components
    assert client.info()["version"]["number"].startswith("3.")


def test_status_reports_running_engine(engine: str) -> None:
    state = engine_ctl.status(get_settings())
    assert state.running and state.health == "green"
    assert "divrank" in state.plugins


def test_knn_query_uses_lucene_hnsw_and_matches_brute_force(client: OpenSearch) -> None:
    index = f"t-engine-{uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    client.indices.create(index=index, body={
        "settings": {"index.knn": True, "number_of_shards": 1},
        "mappings": {"properties": {"v": {
            "type": "knn_vector", "dimension": 16, "space_type": "cosinesimil",
            "method": {"name": "hnsw", "engine": "lucene"},
        }}},
    })
    try:
        for i, v in enumerate(vectors):
            client.index(index=index, id=str(i), body={"v": v.tolist()})
        client.indices.refresh(index=index)
        query = vectors[0] + 0.1 * vectors[1]
        resp = client.search(index=index, body={
            "size": 10, "profile": True,
            "query": {"knn": {"v": {"vector": query.tolist(), "k": 10}}},
        })
        got = [hit["_id"] for hit in resp["hits"]["hits"]]
        expected = [str(i) for i in np.argsort(-(vectors @ query))[:10]]
        # HNSW is approximate, but on 300 points with default ef it finds the true neighbours.
        assert len(set(got) & set(expected)) >= 9
        assert got[0] == expected[0]
        profiled = resp["profile"]["shards"][0]["searches"][0]["query"][0]["type"]
        assert profiled == "LuceneEngineKnnVectorQuery"
        mapping = client.indices.get_mapping(index=index)[index]["mappings"]["properties"]["v"]
        assert mapping["method"]["engine"] == "lucene" and mapping["method"]["name"] == "hnsw"
    finally:
        client.indices.delete(index=index)


def test_up_is_idempotent_on_a_running_engine(engine: str) -> None:
    messages: list[str] = []
    state = engine_ctl.up(get_settings(), messages.append)
    assert state.running
    assert any("already running" in m for m in messages)
