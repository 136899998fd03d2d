"""The sidecar's learned relevance: on by default (the shipped model), switched off per request
or per process, and a bad model file stops ``divrank serve`` at start with one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reranker.app.embedded import embedded_sidecar

TITLES = [
    "Hampton Bay 52 in. Ceiling Fan",
    "Behr Premium 1 gal. Exterior Paint",
    "Everbilt 3/4 in. Galvanized Pipe Nipple",
    "Glacier Bay Bathroom Faucet",
    "SharkBite 3/4 in. Push-to-Connect Coupling",
    "Rheem 40 gal. Water Heater",
]


def _payload(kit: Any, **knobs: Any) -> dict[str, Any]:
    body = kit.payload(n=6, k=3, diversity=0.0, explain=True, **knobs)
    for candidate, title in zip(body["candidates"], TITLES, strict=True):
        candidate["title"] = title
    body["query"] = "sharkbite 3/4 coupling"
    return body


def test_titles_and_a_query_turn_the_relevance_model_on(client: httpx.Client, kit: Any) -> None:
    answer = client.post("/v1/rerank", json=_payload(kit)).json()
    assert answer["ids"][0] == "item-4"  # the matching title, fifth in the engine's order
    for explanation in answer["explanations"]:
        assert "learned_relevance" in explanation["terms"]
        assert sum(explanation["terms"].values()) == pytest.approx(explanation["fused"], abs=1e-5)
        assert "engine_score" in explanation["features"]


def test_the_per_request_switch_keeps_the_engine_scores(client: httpx.Client, kit: Any) -> None:
    answer = client.post("/v1/rerank", json=_payload(kit, relevance_model=False)).json()
    assert answer["ids"] == ["item-0", "item-1", "item-2"]
    assert all("learned_relevance" not in e["terms"] for e in answer["explanations"])


def test_without_titles_the_engine_scores_count(client: httpx.Client, kit: Any) -> None:
    body = _payload(kit)
    for candidate in body["candidates"]:
        del candidate["title"]
    assert client.post("/v1/rerank", json=body).json()["ids"] == ["item-0", "item-1", "item-2"]


@pytest.fixture(scope="module")
def off_client(kit: Any) -> Iterator[httpx.Client]:
    with (
        embedded_sidecar(kit.settings(relevance=False)) as running,
        httpx.Client(base_url=running.url, timeout=10.0) as http,
    ):
        yield http


def test_the_process_switch_turns_it_off(off_client: httpx.Client, kit: Any) -> None:
    assert off_client.post("/v1/rerank", json=_payload(kit)).json()["ids"][0] == "item-0"
    assert off_client.get("/readyz").json()["checks"]["relevance"] == "disabled"


@pytest.mark.parametrize("content", [None, "{broken", '{"format": "divrank-relevance/1"}'])
def test_a_bad_model_file_stops_serve_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None
) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from config.settings import get_settings

    path = tmp_path / "relevance.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("DIVRANK_RELEVANCE_MODEL", str(path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--port", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in result.output
    assert lines[0].startswith("divrank serve: bad configuration: relevance model")
