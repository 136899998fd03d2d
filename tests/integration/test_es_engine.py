"""The Elasticsearch the project starts is real: 9.x from Maven Central, dense_vector HNSW kNN."""

from __future__ import annotations

import json
import urllib.request
import uuid

import numpy as np
import pytest
from elasticsearch import Elasticsearch

from cli.nodes import elasticsearch as es_engine_ctl
from config.connection import connect_elasticsearch
from config.settings import get_settings
from indexer.engine_dialect import ELASTICSEARCH, dialect_of

pytestmark = pytest.mark.integration


@pytest.fixture()
def es(es_engine: str) -> Elasticsearch:
    return Elasticsearch(es_engine, request_timeout=30)


def test_node_is_green_elasticsearch_9(es_engine: str, es: Elasticsearch) -> None:
    with urllib.request.urlopen(f"{es_engine}/_nodes?filter_path=nodes.*.version") as resp:
        versions = {n["version"] for n in json.load(resp)["nodes"].values()}
    assert versions and all(v.startswith("9.") for v in versions)
    assert es.cluster.health()["status"] == "green"
    assert dialect_of(es) is ELASTICSEARCH


def test_status_and_connect(es_engine: str) -> None:
    settings = get_settings().model_copy(update={"elasticsearch_url": es_engine})
    state = es_engine_ctl.status(settings)
    assert state.running and state.health == "green"
    client = connect_elasticsearch(settings)
    assert client.cluster.health()["status"] == "green"


def test_up_is_idempotent(es_engine: str) -> None:
    messages: list[str] = []
    state = es_engine_ctl.up(get_settings(), messages.append)
    assert state.running
    assert any("already" in m for m in messages)


def test_dense_vector_knn_matches_brute_force(es: Elasticsearch) -> None:
    index = f"t-es-engine-{uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    body = ELASTICSEARCH.item_index_body(16, {"kind": "test"})
    es.indices.create(index=index, body=body)
    try:
        mapping = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
        assert mapping["embedding"]["type"] == "dense_vector"
        assert mapping["embedding"]["index_options"]["type"] == "hnsw"
        assert mapping["embedding"]["similarity"] == "cosine"
        ops = []
        for i, v in enumerate(vectors):
            ops += [{"index": {"_index": index, "_id": str(i)}}, {"embedding": v.tolist()}]
        es.bulk(operations=ops, refresh=True)
        query = vectors[0] + 0.1 * vectors[1]
        resp = es.search(index=index, body=ELASTICSEARCH.knn_probe("embedding", query.tolist(), 10))
        got = [hit["_id"] for hit in resp["hits"]["hits"]]
        expected = [str(i) for i in np.argsort(-(vectors @ query))[:10]]
        assert len(set(got) & set(expected)) >= 9
        assert got[0] == expected[0]
        # _source keeps the vector as sent (exclude_source_vectors: false): the hook reads it.
        doc = es.get(index=index, id="3")["_source"]["embedding"]
        assert np.allclose(doc, vectors[3], atol=1e-6)
    finally:
        es.indices.delete(index=index)
