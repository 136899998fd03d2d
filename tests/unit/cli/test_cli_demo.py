"""``divrank demo`` without an engine: every command that needs one says so in one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from config.settings import get_settings

runner = CliRunner()
CLOSED = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Settings point at a closed port and a private cache dir (pid file, events)."""
    monkeypatch.setenv("DIVRANK_OPENSEARCH_URL", CLOSED)
    monkeypatch.setenv("DIVRANK_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("DIVRANK_PORT", "9")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "run"],
        ["demo", "compare", "-q", "toner"],
        ["demo", "profiles"],
        ["demo", "index-ready"],
    ],
)
def test_unreachable_engine_is_one_clear_line(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        f"error: cannot reach OpenSearch at {CLOSED}; start it with `divrank engine up` or set "
        "DIVRANK_OPENSEARCH_URL"
    ], result.output
    assert not (Path(get_settings().cache_dir) / "demo").exists()  # nothing written


def test_unknown_user_is_named_before_connecting() -> None:
    result = runner.invoke(app, ["demo", "compare", "--user", "bob"])
    assert result.exit_code == 1
    assert "--user 'bob'" in result.output and "demo-printer" in result.output
    assert "cannot reach" not in result.output


def test_diversity_out_of_range_is_refused() -> None:
    result = runner.invoke(app, ["demo", "compare", "--diversity", "1.5"])
    assert result.exit_code == 2
    assert "--diversity" in result.output


def test_users_lists_the_scripted_shoppers() -> None:
    result = runner.invoke(app, ["demo", "users"])
    assert result.exit_code == 0
    assert "demo-printer" in result.output and "demo-gamer" in result.output


def test_sidecar_status_and_stop_without_a_sidecar() -> None:
    status = runner.invoke(app, ["demo", "sidecar", "status"])
    assert status.exit_code == 1
    assert "answering=False" in status.output and "pid=-" in status.output
    stop = runner.invoke(app, ["demo", "sidecar", "stop"])
    assert stop.exit_code == 0
    assert "sidecar not running" in stop.output


def test_sidecar_start_reports_a_sidecar_that_cannot_bind() -> None:
    # 192.0.2.1 (TEST-NET-1) is no local address: the child fails to bind and exits.
    args = ["--host", "192.0.2.1", "--port", "8650", "--timeout", "20"]
    result = runner.invoke(app, ["demo", "sidecar", "start", *args])
    assert result.exit_code == 1
    assert "error: the sidecar exited" in result.output
    assert "Traceback" not in result.output.split("log ")[0]
    assert not (Path(get_settings().cache_dir) / "sidecar.pid").exists()
