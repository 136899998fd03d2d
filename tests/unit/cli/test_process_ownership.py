"""Tools and fixtures signal only processes they started and still own (pid plus start time).

Each test plants a pid file (or an ownership record) that points at a live process of the
test's own, a `sleep` that divrank never started, and checks that `engine down`, `demo sidecar
stop` and the helpers refuse with a clear message and leave that process running.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.nodes import elasticsearch as es_engine
from cli.nodes import opensearch as engine
from cli.nodes import process as node_process
from cli.nodes import sidecar as sidecar_process
from cli.nodes.process import NotOurs, Owned
from config.settings import Settings


@pytest.fixture()
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A live process divrank did not start."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _settings(tmp_path: Path) -> Settings:
    # A port nothing listens on: status and down must not depend on a running engine.
    return Settings(engine_home=tmp_path / "engine", engine_port=1, es_port=2,
                    cache_dir=tmp_path / "cache", port=9)


def _plant(settings: Settings, pid: int) -> None:
    """A pid file in OpenSearch node 1's place naming ``pid``, and no ownership record."""
    node = engine.cluster(settings).node(1)
    node.pid_file.parent.mkdir(parents=True)
    node.pid_file.write_text(str(pid))


def test_start_time_tells_a_recycled_pid_apart(stranger: subprocess.Popen[bytes]) -> None:
    live = node_process.identify(stranger.pid)
    assert live is not None and live.alive()
    recycled = Owned(stranger.pid, live.start + 1)  # same pid, another process's start time
    assert not recycled.alive()
    assert node_process.send(recycled, signal.SIGKILL) is False
    assert node_process.stop_owned(recycled, timeout_s=1) is False
    assert stranger.poll() is None


def test_engine_down_refuses_a_pid_file_naming_a_stranger(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    settings = _settings(tmp_path)
    _plant(settings, stranger.pid)
    with pytest.raises(NotOurs, match=rf"pid {stranger.pid}.*refusing to signal"):
        engine.down(settings)
    assert stranger.poll() is None


def test_engine_down_refuses_a_record_whose_start_time_differs(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    """Our node died and its pid went to someone else: the record no longer matches."""
    settings = _settings(tmp_path)
    local = es_engine.cluster(settings)
    node = local.node(2)  # a second node's files: `down` covers every node folder
    node.pid_file.parent.mkdir(parents=True)
    node.pid_file.write_text(str(stranger.pid))
    live = node_process.identify(stranger.pid)
    assert live is not None
    node_process.save_owner(node.owner_file, Owned(live.pid, live.start - 5))
    with pytest.raises(NotOurs, match="now belongs to another process"):
        es_engine.down(settings)
    assert stranger.poll() is None
    assert not node.owner_file.exists()  # the stale record is gone: the next run is quiet
    assert es_engine.down(settings) is False


def test_cli_engine_down_says_why_and_exits_1(
    tmp_path: Path, stranger: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    _plant(settings, stranger.pid)
    monkeypatch.setenv("DIVRANK_ENGINE_HOME", str(settings.engine_home))
    monkeypatch.setenv("DIVRANK_ENGINE_PORT", "1")
    from config.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["engine", "down"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "refusing to signal it" in result.output and str(stranger.pid) in result.output
    assert "Traceback" not in result.output
    assert stranger.poll() is None


def test_cli_demo_sidecar_stop_leaves_a_stranger_alone(
    tmp_path: Path, stranger: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pid file from an older run, its pid since taken by an unrelated process."""
    (tmp_path / "sidecar.pid").write_text(json.dumps({"pid": stranger.pid, "url": "http://x"}))
    monkeypatch.setenv("DIVRANK_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("DIVRANK_PORT", "9")
    from config.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["demo", "sidecar", "stop"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"refusing to signal pid {stranger.pid}" in result.output
    assert stranger.poll() is None


def test_status_shows_the_refusal_and_no_pid(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    settings = _settings(tmp_path)
    _plant(settings, stranger.pid)
    state = engine.status(settings)
    assert state.pid is None and not state.running
    assert "refusing" in state.nodes[0].note
    assert stranger.poll() is None


def test_sidecar_stop_refuses_a_stranger_with_a_message(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    settings = _settings(tmp_path)
    settings.cache_dir.mkdir()
    live = node_process.identify(stranger.pid)
    assert live is not None
    sidecar_process.pid_path(settings).write_text(
        json.dumps({"pid": stranger.pid, "start": live.start + 1, "url": "http://x"})
    )
    said: list[str] = []
    assert sidecar_process.stop(settings, report=said.append) is False
    assert any(f"refusing to signal pid {stranger.pid}" in line for line in said), said
    assert stranger.poll() is None


def test_claim_records_only_a_node_started_from_its_home(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    pid_file, owner_file = tmp_path / "n.pid", tmp_path / "n.owner.json"
    pid_file.write_text(str(stranger.pid))
    with pytest.raises(NotOurs):
        node_process.claim(pid_file, owner_file, "/nowhere/opensearch-3.5.0")
    assert not owner_file.exists()
    # The test's own interpreter path is in the stranger's command line: a match is recorded.
    owned = node_process.claim(pid_file, owner_file, sys.executable)
    assert owned == node_process.identify(stranger.pid)
    assert node_process.owner_of(pid_file, owner_file, sys.executable) == owned


def test_a_reaped_child_is_never_signalled() -> None:
    """The conftest sidecar handle signals through (pid, start time): once its process has
    exited and been reaped, its pid is free for reuse and the handle sends nothing."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    owned = node_process.identify(proc.pid) or Owned(proc.pid, -1)
    proc.wait()
    assert node_process.send(owned, signal.SIGKILL, group=True) is False
