"""``divrank serve`` hands the right options to uvicorn (which is replaced by a recorder)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli.commands import serve as cli
from config.settings import get_settings
from reranker.app import serving


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def fake_run(host: str, port: int, workers: int, access_log: bool = False) -> None:
        multiproc = os.environ.get(cli.MULTIPROC_ENV)
        calls.append(
            {
                "host": host,
                "port": port,
                "workers": workers,
                "multiproc": multiproc,
                "access_log": access_log,
            }
        )

    monkeypatch.setattr(serving, "run", fake_run)
    monkeypatch.setenv(cli.MULTIPROC_ENV, "unset-after-test")  # so undo restores "unset"
    monkeypatch.delenv(cli.MULTIPROC_ENV)
    for name in ("DIVRANK_HOST", "DIVRANK_PORT", "DIVRANK_WORKERS", "DIVRANK_ACCESS_LOG"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(cli.serve)
    app.command("noop")(lambda: None)  # two commands, so "serve" is a subcommand
    return app


def test_defaults_bind_loopback_with_one_worker(recorded: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(_app(), ["serve"])
    assert result.exit_code == 0, result.output
    [call] = recorded
    assert (call["host"], call["port"], call["workers"]) == ("127.0.0.1", 8600, 1)
    assert call["multiproc"] is None
    assert call["access_log"] is False  # the sidecar logs its own line per re-rank


def test_options_and_multiprocess_metrics(
    recorded: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(
        _app(), ["serve", "--host", "0.0.0.0", "--port", "9123", "--workers", "2"]
    )
    assert result.exit_code == 0, result.output
    [call] = recorded
    assert (call["host"], call["port"], call["workers"]) == ("0.0.0.0", 9123, 2)
    metrics_dir = Path(call["multiproc"])
    assert "metrics aggregated" in result.output
    assert not metrics_dir.exists()  # our temporary directory is removed afterwards
    assert cli.MULTIPROC_ENV not in os.environ


def test_settings_supply_the_defaults(
    recorded: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIVRANK_PORT", "8700")
    monkeypatch.setenv("DIVRANK_WORKERS", "3")
    monkeypatch.setenv("DIVRANK_ACCESS_LOG", "true")
    get_settings.cache_clear()
    assert CliRunner().invoke(_app(), ["serve"]).exit_code == 0
    assert (recorded[0]["port"], recorded[0]["workers"]) == (8700, 3)
    assert recorded[0]["access_log"] is True


def test_bad_port_is_refused(recorded: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(_app(), ["serve", "--port", "0"])
    assert result.exit_code != 0
    assert recorded == []


def test_root_cli_has_serve() -> None:
    from cli.main import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--workers" in result.output
