"""With DIVRANK_TOKEN set, /v1 needs ``Authorization: Bearer <token>``; health stays open."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic czNjcmV0LXRva2VuLWZvci10ZXN0cw=="},
        {"Authorization": "s3cret-token-for-tests"},
    ],
    ids=["missing", "wrong", "empty", "basic-scheme", "no-scheme"],
)
def test_missing_or_wrong_token_is_401(
    token_client: httpx.Client, kit: Any, headers: dict[str, str]
) -> None:
    response = token_client.post("/v1/rerank", json=kit.payload(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert kit.token not in response.text


def test_right_token_is_accepted(token_client: httpx.Client, kit: Any) -> None:
    response = token_client.post(
        "/v1/rerank", json=kit.payload(), headers={"Authorization": f"Bearer {kit.token}"}
    )
    assert response.status_code == 200, response.text


def test_auth_comes_before_parsing(token_client: httpx.Client) -> None:
    """An unauthenticated caller learns nothing about the body's validity."""
    response = token_client.post("/v1/rerank", content=b"{not json")
    assert response.status_code == 401


def test_health_and_metrics_need_no_token(token_client: httpx.Client) -> None:
    assert token_client.get("/healthz").status_code == 200
    assert token_client.get("/metrics").status_code == 200


def test_without_token_setting_no_header_is_needed(client: httpx.Client, kit: Any) -> None:
    assert client.post("/v1/rerank", json=kit.payload()).status_code == 200


def test_token_is_never_logged(
    token_client: httpx.Client, kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for value in (kit.token, "wrong"):
        token_client.post(
            "/v1/rerank", json=kit.payload(), headers={"Authorization": f"Bearer {value}"}
        )
    assert caplog.records, "expected the request to be logged"
    assert kit.token not in caplog.text
