"""Shared fixtures. The engine fixture gives every integration test the real OpenSearch; the
sidecar launcher gives integration and reliability tests ``divrank serve`` processes of their
own (fixtures, because with ``--import-mode=importlib`` test modules cannot import helpers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit

import httpx
import pytest

from cli.nodes import local_node
from cli.nodes import opensearch as engine_ctl
from cli.nodes import sidecar as sidecar_process
from cli.nodes.local_node import EngineStatus
from cli.nodes.process import Owned, identify
from cli.nodes.process import send as send_owned
from config.settings import REPO_ROOT, get_settings


def _reuse_or_start(
    url: str, port: int, up: Callable[[], EngineStatus], down: Callable[[], object]
) -> Iterator[str]:
    """Reuse an engine that listens on ``port`` (waiting for it to answer: a busy one may miss
    a 2 s health probe), else start ours, and stop only one this session started itself."""
    if local_node.listening(port):
        deadline = time.monotonic() + 120
        while engine_ctl.health(url, timeout=10) is None:
            if time.monotonic() > deadline:
                pytest.fail(f"something listens on port {port} but {url} gives no health")
            time.sleep(2)
        yield url
        return
    started = up()
    try:
        yield started.url
    finally:
        if started.started and os.environ.get("DIVRANK_KEEP_ENGINE") != "1":
            down()


@pytest.fixture(scope="session")
def engine() -> Iterator[str]:
    """Base URL of a running engine: reuse one that listens, else start ours and stop it after.

    ``DIVRANK_KEEP_ENGINE=1`` leaves an engine we started running (handy between local runs).
    """
    settings = get_settings()
    url = settings.opensearch_url.rstrip("/")
    port = urlsplit(url).port or 9200
    yield from _reuse_or_start(
        url, port, lambda: engine_ctl.up(settings), lambda: engine_ctl.down(settings)
    )


@pytest.fixture(scope="session")
def es_engine() -> Iterator[str]:
    """Base URL of a running Elasticsearch (``DIVRANK_ELASTICSEARCH_URL``): reuse or start one.

    Started with ``divrank engine up --engine elasticsearch`` when nothing listens, and stopped
    at the end unless ``DIVRANK_KEEP_ENGINE=1``.
    """
    from cli.nodes import elasticsearch as es_ctl

    settings = get_settings()
    url = settings.elasticsearch_url.rstrip("/")
    port = urlsplit(url).port or 9400
    yield from _reuse_or_start(
        url, port, lambda: es_ctl.up(settings), lambda: es_ctl.down(settings)
    )


# --- sidecar processes ------------------------------------------------------------------------


@dataclass
class SidecarProc:
    """A ``divrank serve`` subprocess, leader of its own process group, so a signal reaches it
    (and its workers) and nothing else."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]  # its stderr: a file, so a chatty sidecar can never block on a full pipe
    owned: Owned  # pid and start time: a signal reaches this very process or nothing

    def send(self, sig: signal.Signals, group: bool = True) -> None:
        """Signal it (or its group) only while it is still the process we started."""
        send_owned(self.owned, sig, group=group)

    def stop(self) -> None:
        """SIGTERM, SIGKILL after 15 s; idempotent."""
        if self.process.poll() is None:
            self.send(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.send(signal.SIGKILL)
                self.process.wait(timeout=5)
        self.log.close()


def _start_sidecar(
    engine: str, port: int | None = None, env: dict[str, str] | None = None, workers: int = 1
) -> SidecarProc:
    """Start ``divrank serve`` on loopback and wait until it answers /healthz (bounded: 60 s)."""
    port = port or sidecar_process.free_port()
    child_env = dict(os.environ, DIVRANK_OPENSEARCH_URL=engine, HF_HUB_OFFLINE="1", **(env or {}))
    cmd = [sys.executable, "-m", "cli.main", "serve", "--port", str(port),
           "--workers", str(workers)]
    log = tempfile.TemporaryFile()  # noqa: SIM115 (owned by SidecarProc, closed by stop)
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=child_env, stdout=subprocess.DEVNULL, stderr=log,
        start_new_session=True,
    )
    owned = identify(proc.pid) or Owned(proc.pid, -1)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return SidecarProc(url, port, proc, log, owned)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    what = f"exited ({proc.returncode})"
    if proc.poll() is None:
        what = "did not answer /healthz within 60 s"
        send_owned(owned, signal.SIGKILL, group=True)
        proc.wait(timeout=10)
    log.seek(0)
    err = log.read().decode(errors="replace")
    log.close()
    raise RuntimeError(f"sidecar on port {port} {what}: {err[-2000:]}")


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A function returning a loopback port nothing listens on (at the time of the call)."""
    return sidecar_process.free_port


@pytest.fixture(scope="session")
def start_sidecar() -> Callable[..., SidecarProc]:
    """``start_sidecar(engine_url, port=, env=, workers=)``: a sidecar for an engine of the
    test's own (e.g. a local cluster), not the shared one; the caller stops it."""
    return _start_sidecar


@pytest.fixture(scope="session")
def launch_sidecar(engine: str) -> Callable[..., SidecarProc]:
    """Start a sidecar for ``engine``: ``launch_sidecar(port=, env=, workers=)``; the caller
    stops it (``.stop()``), so it can live in a fixture of any scope."""

    def launch(
        port: int | None = None, env: dict[str, str] | None = None, workers: int = 1
    ) -> SidecarProc:
        return _start_sidecar(engine, port=port, env=env, workers=workers)

    return launch


@pytest.fixture()
def sidecars(launch_sidecar: Callable[..., SidecarProc]) -> Iterator[Callable[..., SidecarProc]]:
    """Like ``launch_sidecar``, but every sidecar started is stopped at the end of the test."""
    started: list[SidecarProc] = []

    def make(**kwargs: object) -> SidecarProc:
        side = launch_sidecar(**kwargs)
        started.append(side)
        return side

    yield make
    for side in started:
        side.stop()


@pytest.fixture(scope="module")
def icecat_alias(engine: str) -> Iterator[Callable[..., str]]:
    """``icecat_alias(prefix, limit, *options)``: a fresh alias of Icecat items written by
    ``divrank index`` (with those options); every version it made is dropped with the module."""
    from opensearchpy import OpenSearch
    from typer.testing import CliRunner

    from cli.main import app as cli_app

    made: list[str] = []

    def make(prefix: str, limit: int, *options: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        made.append(name)
        args = ["index", "--preset", "icecat", "--limit", str(limit), "--alias", name]
        done = CliRunner().invoke(cli_app, [*args, "--url", engine, *options])
        assert done.exit_code == 0, done.output
        return name

    yield make
    client = OpenSearch(engine, timeout=30)
    for name in made:
        client.indices.delete(index=f"{name}-*", ignore_unavailable=True)
