"""The demo routes without an engine: the page, the users, bad input, an unreachable engine."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.settings import Settings
from reranker.app.demo_search import DEMO_USERS
from reranker.app.embedded import embedded_sidecar

REPO = Path(__file__).resolve().parents[3]
CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens


@pytest.fixture(scope="module")
def demo_http() -> Iterator[httpx.Client]:
    # with a token the demo routes need it like every other route (test_auth_http)
    settings = Settings(opensearch_url=CLOSED, sidecar_lookups=False, token="secret")
    with embedded_sidecar(settings) as running, httpx.Client(
        base_url=running.url, timeout=10.0, headers={"Authorization": "Bearer secret"}
    ) as http:
        yield http


def test_page_is_served_as_html(demo_http: httpx.Client) -> None:
    resp = demo_http.get("/demo")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert 'id="divrank"' in resp.text and "demo/search" in resp.text


def test_users_are_the_scripted_shoppers(demo_http: httpx.Client) -> None:
    resp = demo_http.get("/demo/users")
    assert resp.status_code == 200
    assert [u["id"] for u in resp.json()["users"]] == [u.id for u in DEMO_USERS]
    assert all(u["label"] and u["story"] for u in resp.json()["users"])


def test_demo_routes_need_the_token(demo_http: httpx.Client) -> None:
    # the demo searches the engine with the sidecar's credentials: never without the token
    anonymous = {"Authorization": ""}
    assert demo_http.get("/demo/users", headers=anonymous).status_code == 401
    assert demo_http.post("/demo/search", json={"query": "x"}, headers=anonymous).status_code == 401
    assert demo_http.get("/demo/users").status_code == 200


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"query": "", "diversity": 0.5}, ["body", "query"]),
        ({"query": "x" * 2049}, ["body", "query"]),
        ({"query": "toner", "diversity": 1.5}, ["body", "diversity"]),
        ({"query": "toner", "diversity": -0.1}, ["body", "diversity"]),
        ({"query": "toner", "size": 0}, ["body", "size"]),
        ({"query": "toner", "user_id": ""}, ["body", "user_id"]),
        ({"query": "toner", "strategy": "mmr"}, ["body", "strategy"]),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    demo_http: httpx.Client, body: dict[str, object], loc: list[str]
) -> None:
    resp = demo_http.post("/demo/search", json=body)
    assert resp.status_code == 422
    assert [e["loc"] for e in resp.json()["detail"]] == [loc]


def test_unreachable_engine_is_a_503_with_one_sentence(demo_http: httpx.Client) -> None:
    resp = demo_http.post("/demo/search", json={"query": "toner", "diversity": 0.3})
    assert resp.status_code == 503
    detail = resp.json()["detail"]
    assert "cannot reach OpenSearch" in detail and "divrank engine up" in detail
    assert "Traceback" not in resp.text


def test_demo_routes_do_not_import_torch() -> None:
    script = textwrap.dedent(
        """
        import sys
        from fastapi.testclient import TestClient
        from reranker.app.main import create_app
        from config.settings import Settings

        app = create_app(Settings(sidecar_lookups=False, opensearch_url="http://127.0.0.1:9"))
        with TestClient(app) as http:
            assert http.get("/demo").status_code == 200
            assert http.get("/demo/users").status_code == 200
            assert http.post("/demo/search", json={"query": "ink"}).status_code == 503
        heavy = [m for m in ("torch", "sentence_transformers") if m in sys.modules]
        print("HEAVY=" + ",".join(heavy))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY=\n" in result.stdout, result.stdout
