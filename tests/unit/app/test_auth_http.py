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


def test_demo_and_docs_need_the_token_too(token_client: httpx.Client, kit: Any) -> None:
    for path in ("/demo", "/demo/users"):
        assert token_client.get(path).status_code == 401, path
    assert token_client.post("/demo/search", json={"query": "x"}).status_code == 401
    bearer = {"Authorization": f"Bearer {kit.token}"}
    assert token_client.get("/demo/users", headers=bearer).status_code == 200
    for path in ("/docs", "/openapi.json"):  # Swagger's pages cannot send the token: off
        assert token_client.get(path, headers=bearer).status_code == 404, path
    assert token_client.get("/readyz").status_code in (200, 503)  # open, whatever it says


def test_demo_routes_can_be_removed() -> None:
    from config.settings import Settings
    from reranker.app.main import create_app

    paths = set(create_app(Settings(sidecar_lookups=False, demo=False)).openapi()["paths"])
    assert "/v1/rerank" in paths and not any(p.startswith("/demo") for p in paths)
    shown = create_app(Settings(sidecar_lookups=False)).openapi()["paths"]
    assert any(p.startswith("/demo") for p in shown)


def test_empty_token_is_an_error_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError
    from typer.testing import CliRunner

    from cli.main import app
    from config.settings import Settings, get_settings

    with pytest.raises(ValidationError, match="DIVRANK_TOKEN is set but empty"):
        Settings(token="  ")
    monkeypatch.setenv("DIVRANK_TOKEN", "")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "DIVRANK_TOKEN is set but empty" in result.output and "Traceback" not in result.output
