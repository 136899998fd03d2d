"""OpenSearch unreachable: rerank still answers 200 with what the request carries."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reranker.app.embedded import EmbeddedSidecar, embedded_sidecar


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def offline(kit: Any) -> Iterator[tuple[EmbeddedSidecar, httpx.Client]]:
    settings = kit.settings(
        sidecar_lookups=True,
        opensearch_url=f"http://127.0.0.1:{_closed_port()}",
        lookup_timeout_s=0.5,
        lookup_backoff_s=60.0,
    )
    with embedded_sidecar(settings) as running, httpx.Client(base_url=running.url) as http:
        yield running, http


def _degraded_count(http: httpx.Client, reason: str) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(f'divrank_degraded_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_stored_profile_unreachable(
    offline: tuple[EmbeddedSidecar, httpx.Client], kit: Any
) -> None:
    running, http = offline
    before = _degraded_count(http, "profile_unavailable")
    body = kit.payload(k=4)
    body["user"] = {"id": "u42"}
    response = http.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["degraded"] == ["profile_unavailable"]
    assert len(response.json()["ids"]) == 4
    assert _degraded_count(http, "profile_unavailable") == before + 1
    connection = running.app.state.sidecar.connection
    assert connection.backing_off()  # later requests skip the engine instead of waiting


def test_vectors_unreachable(offline: tuple[EmbeddedSidecar, httpx.Client], kit: Any) -> None:
    _, http = offline
    body = kit.payload(k=3)
    for cand in body["candidates"]:
        del cand["embedding"]
    body["index"] = "items"
    response = http.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["degraded"] == ["vectors_unavailable"]


def test_readyz_reports_the_engine(offline: tuple[EmbeddedSidecar, httpx.Client]) -> None:
    _, http = offline
    response = http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["opensearch"] == "unreachable"
    assert http.get("/healthz").status_code == 200
