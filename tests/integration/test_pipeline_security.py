"""A pipeline may name only a sidecar host on the node allow-list (divrank.sidecar.allowed_hosts,
loopback by default): anyone else's host is refused at creation with a 400 that says why, through
the real engine and through ``divrank pipeline install``, so the keystore token and the hits never
leave for it."""

from __future__ import annotations

import uuid

import httpx
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def test_foreign_sidecar_host_is_refused_at_creation(engine: str) -> None:
    name = f"t-sec-{uuid.uuid4().hex[:8]}"
    body = {"response_processors": [{"divrank": {"sidecar_url": "http://example.com:8600"}}]}
    resp = httpx.put(f"{engine}/_search/pipeline/{name}", json=body, timeout=30)
    assert resp.status_code == 400, resp.text
    assert "divrank.sidecar.allowed_hosts" in resp.text and "sidecar_url" in resp.text
    assert httpx.get(f"{engine}/_search/pipeline/{name}", timeout=30).status_code == 404
    ok = {"response_processors": [{"divrank": {"sidecar_url": "http://127.0.0.1:8600"}}]}
    try:
        created = httpx.put(f"{engine}/_search/pipeline/{name}", json=ok, timeout=30)
        assert created.status_code == 200, created.text
    finally:
        httpx.delete(f"{engine}/_search/pipeline/{name}", timeout=30)


def test_cli_install_names_the_setting(engine: str) -> None:
    name = f"t-sec-{uuid.uuid4().hex[:8]}"
    result = runner.invoke(app, ["pipeline", "install", "--name", name,
                                 "--sidecar-url", "http://203.0.113.9:8600", "--url", engine])
    assert result.exit_code != 0
    assert "allowed_hosts" in result.output and "Traceback" not in result.output
