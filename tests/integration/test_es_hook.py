"""The client-side hook on a real Elasticsearch, against a real sidecar (HTTP) and in process.

Each test checks the page against what the sidecar itself answers for the same window, against
the engine's own order, or against the plugin's fail-open contract.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from elasticsearch import Elasticsearch, helpers
from fastapi.testclient import TestClient

from config.settings import Settings, get_settings
from indexer.engine_dialect import ELASTICSEARCH
from reranker.app.embedded import EmbeddedSidecar, embedded_sidecar
from reranker.app.inprocess import InProcessReranker
from reranker.app.main import create_app
from reranker.hook import (
    DivrankRequestError,
    DivrankUnavailable,
    HookConfig,
    SidecarClient,
    divrank_search,
)

pytestmark = pytest.mark.integration

DIM = 8
N_DOCS = 150
QUERY = {
    "function_score": {
        "query": {"match": {"title": "toner"}},
        # distinct prices give distinct scores: engine order has no ties to break
        "field_value_factor": {"field": "price"},
        "boost_mode": "replace",
    }
}
BRANDS = ["hp", "canon", "brother", "epson", "xerox"]


@pytest.fixture(scope="module")
def es(es_engine: str) -> Elasticsearch:
    return Elasticsearch(es_engine, request_timeout=30)


@pytest.fixture(scope="module")
def index(es: Elasticsearch) -> Iterator[str]:
    """150 toner docs; the top of the engine order is one brand of near-identical vectors."""
    name = f"t-es-hook-{uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(11)
    base = rng.normal(size=DIM)
    es.indices.create(index=name, body=ELASTICSEARCH.item_index_body(DIM, {"kind": "test"}))
    docs = []
    for i in range(N_DOCS):
        same = i % 3 != 0  # two thirds: one brand, almost the same vector
        vec = base + (0.01 if same else 1.0) * rng.normal(size=DIM)
        docs.append(
            {
                "_index": name,
                "_id": f"d{i:03d}",
                "_source": {
                    "title": f"toner cartridge {i}",
                    "brand": "hp" if same else BRANDS[i % len(BRANDS)],
                    "category": "printing/toner" if same else f"printing/ink{i % 4}",
                    "price": 1000.0 - i,
                    "embedding": vec.tolist(),
                },
            }
        )
    helpers.bulk(es, docs, refresh=True)
    yield name
    es.indices.delete(index=name)


def _settings() -> Settings:
    return get_settings().model_copy(update={"sidecar_lookups": False})


@pytest.fixture(scope="module")
def sidecar() -> Iterator[EmbeddedSidecar]:
    with embedded_sidecar(_settings()) as running:
        yield running


def _engine_ids(es: Elasticsearch, index: str, size: int, start: int = 0) -> list[str]:
    body = {"query": QUERY, "from": start, "size": size, "_source": False}
    return [h["_id"] for h in es.search(index=index, body=body)["hits"]["hits"]]


def _sidecar_order(
    url: str, es: Elasticsearch, index: str, window: int, diversity: float, k: int, page_size: int
) -> list:
    """The sidecar's own answer for the window, built independently (JSON vectors): the first
    ``k`` picks with caps counted per page of ``page_size``, as the hook asks for them."""
    hits = es.search(index=index, body={"query": QUERY, "size": window})["hits"]["hits"]
    payload = {
        "query": "toner",
        "candidates": [
            {"id": h["_id"], "score": h["_score"], "embedding": h["_source"]["embedding"],
             "brand": h["_source"]["brand"], "category": h["_source"]["category"],
             "price": h["_source"]["price"], "title": h["_source"]["title"]}
            for h in hits
        ],
        "k": k,
        "page_size": page_size,
        "knobs": {"diversity": diversity, "strategy": "fusion"},
    }
    reply = httpx.post(f"{url}/v1/rerank", json=payload, timeout=10).raise_for_status().json()
    return list(reply["ids"])


def test_page_equals_sidecar_order_for_same_window(
    es: Elasticsearch, index: str, sidecar: EmbeddedSidecar
) -> None:
    body = {"query": QUERY, "from": 10, "size": 10, "ext": {"divrank": {"diversity": 0.8}}}
    page = divrank_search(
        es, index, body, reranker=SidecarClient(sidecar.url), config=HookConfig(window_size=50)
    )
    block = page["ext"]["divrank"]
    assert block["applied"] is True and block["degraded"] is False and block["reason"] is None
    assert block["window"] == 50 and block["strategy"] == "fusion" and block["diversity"] == 0.8
    got = [h["_id"] for h in page["hits"]["hits"]]
    expected = _sidecar_order(sidecar.url, es, index, 50, 0.8, k=20, page_size=10)
    assert got == expected[10:20]
    # and it is not the engine's page: the hp near-duplicates were pushed apart
    assert got != _engine_ids(es, index, 10, start=10)
    first = divrank_search(es, index, {"query": QUERY, "size": 10}, diversity=0.8,
                           reranker=SidecarClient(sidecar.url), config=HookConfig(window_size=50))
    brands = {h["_source"]["brand"] for h in first["hits"]["hits"]}
    engine_first = es.search(index=index, body={"query": QUERY, "size": 10})["hits"]["hits"]
    assert len(brands) > len({h["_source"]["brand"] for h in engine_first})
    # the vector never reaches the caller unless asked for
    assert all("embedding" not in h["_source"] for h in first["hits"]["hits"])


def test_in_process_equals_http(es: Elasticsearch, index: str, sidecar: EmbeddedSidecar) -> None:
    body = {"query": QUERY, "size": 10}
    over_http = divrank_search(es, index, body, diversity=0.6, reranker=SidecarClient(sidecar.url))
    local = divrank_search(
        es, index, body, diversity=0.6, reranker=InProcessReranker.from_settings(_settings())
    )
    assert [h["_id"] for h in local["hits"]["hits"]] == [
        h["_id"] for h in over_http["hits"]["hits"]
    ]
    assert local["ext"]["divrank"]["applied"] is True


def test_fail_open_when_sidecar_down(es: Elasticsearch, index: str) -> None:
    with embedded_sidecar(_settings()) as doomed:
        url = doomed.url
    body = {"query": QUERY, "from": 5, "size": 10, "ext": {"divrank": {"diversity": 1.0}}}
    page = divrank_search(es, index, body, reranker=SidecarClient(url))
    block = page["ext"]["divrank"]
    assert block["applied"] is False and block["degraded"] is True
    assert block["reason"] == "sidecar_unreachable"
    assert [h["_id"] for h in page["hits"]["hits"]] == _engine_ids(es, index, 10, start=5)
    assert all("embedding" not in h["_source"] for h in page["hits"]["hits"])
    with pytest.raises(DivrankUnavailable, match="sidecar_unreachable"):
        divrank_search(
            es, index, body, reranker=SidecarClient(url), config=HookConfig(fail_open=False)
        )


def test_bad_sidecar_reply_fails_open(es: Elasticsearch, index: str) -> None:
    class Liar:
        def rerank(self, payload: dict) -> dict:
            return {"ids": ["not-in-window"], "scores": [1.0]}

    page = divrank_search(es, index, {"query": QUERY, "size": 5}, reranker=Liar())
    assert page["ext"]["divrank"]["reason"] == "sidecar_bad_reply"
    assert [h["_id"] for h in page["hits"]["hits"]] == _engine_ids(es, index, 5)


def test_pagination_has_no_duplicates_or_gaps(
    es: Elasticsearch, index: str, sidecar: EmbeddedSidecar
) -> None:
    backend = SidecarClient(sidecar.url)
    config = HookConfig(window_size=60)
    seen: list[str] = []
    for start in range(0, 60, 12):
        body = {"query": QUERY, "from": start, "size": 12}
        page = divrank_search(es, index, body, diversity=0.7, reranker=backend, config=config)
        assert page["ext"]["divrank"]["applied"] is True
        seen += [h["_id"] for h in page["hits"]["hits"]]
    assert len(seen) == 60 and len(set(seen)) == 60
    assert seen == _sidecar_order(sidecar.url, es, index, 60, 0.7, k=60, page_size=12)
    beyond = divrank_search(
        es, index, {"query": QUERY, "from": 55, "size": 10}, reranker=backend, config=config
    )
    assert beyond["ext"]["divrank"]["reason"] == "page_beyond_window"
    assert [h["_id"] for h in beyond["hits"]["hits"]] == _engine_ids(es, index, 10, start=55)


def test_pass_through_and_explain(es: Elasticsearch, index: str, sidecar: EmbeddedSidecar) -> None:
    backend = SidecarClient(sidecar.url)
    sorted_page = divrank_search(
        es, index, {"query": QUERY, "size": 5, "sort": [{"price": "asc"}]}, reranker=backend
    )
    assert sorted_page["ext"]["divrank"]["reason"] == "explicit_sort"
    assert sorted_page["hits"]["hits"][0]["_id"] == "d149"
    explained = divrank_search(
        es, index, {"query": QUERY, "size": 3, "_source": ["brand", "embedding"]},
        explain=True, reranker=backend,
    )
    for rank, hit in enumerate(explained["hits"]["hits"]):
        assert set(hit["_source"]) == {"brand", "embedding"}  # the caller asked for the vector
        detail = hit["fields"]["_divrank"][0]
        assert detail["rank"] == rank and "terms" in detail and "fused" in detail
    with pytest.raises(DivrankRequestError, match=r"\[ext.divrank.diversity\]"):
        divrank_search(es, index, {"query": QUERY, "ext": {"divrank": {"diversity": 2}}})


def test_search_proxy_endpoint(es_engine: str, es: Elasticsearch, index: str) -> None:
    off = TestClient(create_app(_settings()))
    assert off.post("/v1/search", json={"index": index, "body": {}}).status_code == 404
    settings = _settings().model_copy(update={"search_proxy_url": es_engine})
    with TestClient(create_app(settings)) as client:
        body = {"query": QUERY, "size": 10, "ext": {"divrank": {"diversity": 0.8}}}
        resp = client.post("/v1/search", json={"index": index, "body": body})
        assert resp.status_code == 200, resp.text
        proxied = resp.json()
        local = divrank_search(
            es, index, body, reranker=InProcessReranker.from_settings(_settings()),
            config=HookConfig(window_size=settings.search_proxy_window),
        )
        assert proxied["ext"]["divrank"]["applied"] is True
        assert [h["_id"] for h in proxied["hits"]["hits"]] == [
            h["_id"] for h in local["hits"]["hits"]
        ]
        bad = client.post(
            "/v1/search",
            json={"index": index, "body": {"query": QUERY, "ext": {"divrank": {"diversity": 2}}}},
        )
        assert bad.status_code == 422 and "ext.divrank.diversity" in bad.text
        missing = client.post("/v1/search", json={"index": "t-es-none-here", "body": {}})
        assert missing.status_code == 404 and "index_not_found" in missing.text


def test_sidecar_lookups_read_elasticsearch(es_engine: str, es: Elasticsearch, index: str) -> None:
    """With DIVRANK_OPENSEARCH_URL at Elasticsearch, profiles and missing vectors are found."""
    profiles = f"t-es-prof-{uuid.uuid4().hex[:8]}"
    es.indices.create(index=profiles, body=ELASTICSEARCH.profile_index_body(DIM, {"kind": "t"}))
    try:
        interest = es.get(index=index, id="d000")["_source"]["embedding"]
        es.index(index=profiles, id="u1", refresh=True, document={
            "user_id": "u1", "interests": [interest], "interest_weights": [1.0],
            "centroid": interest, "category_hist": {"printing/toner": 1.0},
            "brand_hist": {"hp": 1.0}, "recent_item_ids": ["d000"],
        })
        settings = get_settings().model_copy(update={
            "opensearch_url": es_engine, "profiles_alias": profiles, "lookup_timeout_s": 5.0,
        })
        backend = InProcessReranker.from_settings(settings)
        reply = backend.rerank({
            "index": index, "user": {"id": "u1"}, "k": 3,
            "candidates": [{"id": f"d{i:03d}", "score": 1.0 - i / 10} for i in range(3)],
        })
        assert "degraded" not in reply, reply  # profile and all three vectors were read
        missing = backend.rerank({
            "index": index, "user": {"id": "nobody"}, "k": 1,
            "candidates": [{"id": "d001", "score": 1.0}],
        })
        assert "degraded" not in missing  # an absent profile is not an outage
    finally:
        es.indices.delete(index=profiles)
