"""/metrics exposes request counts, latency by strategy, errors and degraded paths."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families


def _samples(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def _get(values: dict[Any, float], name: str, **labels: str) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def test_rerank_is_counted_and_timed_by_strategy(client: httpx.Client, kit: Any) -> None:
    before = _samples(client)
    for _ in range(3):
        assert client.post("/v1/rerank", json=kit.payload(strategy="mmr")).status_code == 200
    after = _samples(client)
    assert (
        _get(after, "divrank_rerank_requests_total", strategy="mmr")
        - _get(before, "divrank_rerank_requests_total", strategy="mmr")
        == 3
    )
    assert (
        _get(after, "divrank_rerank_latency_seconds_count", strategy="mmr")
        - _get(before, "divrank_rerank_latency_seconds_count", strategy="mmr")
        == 3
    )
    labels = {"route": "/v1/rerank", "method": "POST", "status": "200"}
    assert (
        _get(after, "divrank_http_requests_total", **labels)
        - _get(before, "divrank_http_requests_total", **labels)
        == 3
    )


def test_errors_are_counted_by_status(client: httpx.Client, kit: Any) -> None:
    before = _samples(client)
    client.post("/v1/rerank", content=b"{oops")
    client.post("/v1/rerank", content=b" " * (kit.max_body_bytes + 1))
    after = _samples(client)
    for status in ("422", "413"):
        delta = _get(after, "divrank_errors_total", route="/v1/rerank", status=status) - _get(
            before, "divrank_errors_total", route="/v1/rerank", status=status
        )
        assert delta == 1, status


def test_unmatched_paths_share_one_label(client: httpx.Client) -> None:
    client.get("/no/such/path/abc123")
    text = client.get("/metrics").text
    assert "abc123" not in text
    assert 'route="unmatched"' in text
