"""The happy path of POST /v1/rerank, /healthz, /readyz and the OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from reranker.app.privacy import hash_user_id
from reranker.contract import STRATEGIES


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_returns_a_full_page(client: httpx.Client, kit: Any, strategy: str) -> None:
    body = kit.payload(n=8, k=5, strategy=strategy, diversity=0.7)
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    sent = [c["id"] for c in body["candidates"]]
    assert len(data["ids"]) == 5
    assert len(set(data["ids"])) == 5
    assert set(data["ids"]) <= set(sent)
    assert len(data["scores"]) == 5
    assert data["strategy"] == strategy
    assert data["model_version"]


def test_explanations_only_when_asked(client: httpx.Client, kit: Any) -> None:
    plain = client.post("/v1/rerank", json=kit.payload(k=4)).json()
    assert "explanations" not in plain
    explained = client.post("/v1/rerank", json=kit.payload(k=4, explain=True)).json()
    explanations = explained["explanations"]
    assert [e["id"] for e in explanations] == explained["ids"]
    for item, score in zip(explanations, explained["scores"], strict=True):
        assert item["fused"] == pytest.approx(score, abs=1e-5)
        assert sum(item["terms"].values()) == pytest.approx(item["fused"], abs=1e-4)
        assert isinstance(item["decisions"], list)
        assert 0 <= item["engine_rank"] < 6


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_explanations_for_every_strategy(client: httpx.Client, kit: Any, strategy: str) -> None:
    body = kit.payload(n=9, k=6, strategy=strategy, diversity=1.0, explain=True)
    data = client.post("/v1/rerank", json=body).json()
    assert [e["id"] for e in data["explanations"]] == data["ids"]
    assert all(e["terms"] for e in data["explanations"])


def test_k_defaults_to_ten_or_all(client: httpx.Client, kit: Any) -> None:
    small = kit.payload(n=4)
    del small["k"]
    assert len(client.post("/v1/rerank", json=small).json()["ids"]) == 4
    large = kit.payload(n=12)
    del large["k"]
    assert len(client.post("/v1/rerank", json=large).json()["ids"]) == 10


def test_candidates_without_embeddings_or_scores(client: httpx.Client) -> None:
    body = {
        "candidates": [
            {"id": "a", "score": None, "brand": "hp"},
            {"id": "b", "score": 2.0, "category": "printing/toner"},
            {"id": "c"},
        ],
        "k": 3,
        "knobs": {"diversity": 0.0, "strategy": "fusion"},
    }
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text
    assert sorted(response.json()["ids"]) == ["a", "b", "c"]
    assert "degraded" not in response.json()


def test_inline_history_is_accepted(client: httpx.Client, kit: Any) -> None:
    body = kit.payload(n=6, k=3)
    body["user"] = {"history": {"vectors": [body["candidates"][5]["embedding"]]}}
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text


def test_unknown_user_without_lookups_is_not_an_error(client: httpx.Client, kit: Any) -> None:
    body = kit.payload()
    body["user"] = {"id": "nobody-knows-me"}
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 200
    assert "degraded" not in response.json()


def test_user_id_is_hashed_in_logs(
    client: httpx.Client, kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="divrank.sidecar")
    body = kit.payload()
    body["user"] = {"id": "alice@example.com"}
    assert client.post("/v1/rerank", json=body).status_code == 200
    assert hash_user_id("alice@example.com") in caplog.text
    assert "alice" not in caplog.text


def test_healthz_and_readyz(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"weights": "ok", "relevance": "ok", "vectors": "disabled",
                                      "opensearch": "disabled"}  # fmt: skip


def test_openapi_documents_the_request_body(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    post = doc["paths"]["/v1/rerank"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schemas = doc["components"]["schemas"]
    assert ref == "#/components/schemas/RerankRequest"
    for name in ("RerankRequest", "Candidate", "Knobs", "User", "History", "RerankResponse"):
        assert name in schemas
    strategy = schemas["Knobs"]["properties"]["strategy"]
    assert set(strategy["enum"]) == set(STRATEGIES)
    assert {"/healthz", "/readyz", "/metrics"} <= set(doc["paths"])
    assert client.get("/docs").status_code == 200


def test_unknown_path_is_404_json(client: httpx.Client) -> None:
    response = client.get("/v2/rerank")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
