"""``divrank pipeline install|show|remove`` against the real engine (with the divrank plugin)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError
from typer.testing import CliRunner

from cli.main import app

pytestmark = pytest.mark.integration

runner = CliRunner()


@pytest.fixture()
def alias(engine: str) -> Iterator[tuple[str, str, str]]:
    """(alias, index, pipeline name), all unique, deleted afterwards."""
    client = OpenSearch(engine, timeout=30)
    prefix = f"t-pipecli-{uuid.uuid4().hex[:8]}"
    index, name = f"{prefix}-v1", f"{prefix}-pipe"
    client.indices.create(index=index, body={"settings": {"number_of_replicas": 0}})
    client.indices.put_alias(index=index, name=prefix)
    yield prefix, index, name
    client.indices.delete(index=index, ignore_unavailable=True)
    with contextlib.suppress(NotFoundError):  # already removed by the test
        client.transport.perform_request("DELETE", f"/_search/pipeline/{name}")


def test_install_default_show_remove(engine: str, alias: tuple[str, str, str]) -> None:
    name_alias, index, name = alias
    client = OpenSearch(engine, timeout=30)
    result = runner.invoke(
        app,
        [
            "pipeline",
            "install",
            "--alias",
            name_alias,
            "--default",
            "--name",
            name,
            "--sidecar-url",
            "http://127.0.0.1:8600",
            "--window-size",
            "50",
            "--diversity",
            "0.3",
            "--strategy",
            "mmr",
            "--fail-closed",
            "--url",
            engine,
        ],
    )
    assert result.exit_code == 0, result.output
    assert index in result.output
    assert "window with stored fields" in result.output  # no item_id here: no lean window
    settings = client.indices.get_settings(index=index)[index]["settings"]["index"]
    assert settings["search"]["default_pipeline"] == name

    shown = runner.invoke(app, ["pipeline", "show", "--name", name, "--url", engine])
    assert shown.exit_code == 0, shown.output
    definition = json.loads(shown.output)
    assert definition["request_processors"] == [{"divrank_window": {"window_size": 50}}]
    response = definition["response_processors"][0]["divrank"]
    assert response["default_diversity"] == 0.3
    assert response["default_strategy"] == "mmr"
    assert response["fail_open"] is False

    removed = runner.invoke(
        app, ["pipeline", "remove", "--name", name, "--alias", name_alias, "--url", engine]
    )
    assert removed.exit_code == 0, removed.output
    settings = client.indices.get_settings(index=index)[index]["settings"]["index"]
    assert "search" not in settings or "default_pipeline" not in settings["search"]
    missing = runner.invoke(app, ["pipeline", "show", "--name", name, "--url", engine])
    assert missing.exit_code == 1
    assert "no search pipeline named" in missing.output


def test_clear_errors_without_traceback(engine: str, alias: tuple[str, str, str]) -> None:
    _, _, name = alias
    no_alias = runner.invoke(
        app, ["pipeline", "install", "--default", "--name", name, "--url", engine]
    )
    assert no_alias.exit_code == 1
    assert "--default needs --alias" in no_alias.output

    unknown = runner.invoke(
        app,
        [
            "pipeline",
            "install",
            "--alias",
            f"{name}-nope",
            "--default",
            "--name",
            name,
            "--url",
            engine,
        ],
    )
    assert unknown.exit_code == 1
    assert f"no alias or index named '{name}-nope'" in unknown.output

    bad_url = runner.invoke(
        app, ["pipeline", "install", "--name", name, "--sidecar-url", "ftp://x", "--url", engine]
    )
    assert bad_url.exit_code == 1
    assert "sidecar_url" in bad_url.output

    down = runner.invoke(
        app, ["pipeline", "install", "--name", name, "--url", "http://127.0.0.1:9"]
    )
    assert down.exit_code == 1
    assert "cannot reach OpenSearch" in down.output
    assert "Traceback" not in down.output
