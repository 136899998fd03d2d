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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

import httpx
import pytest

from cli.nodes import opensearch as engine_ctl
from cli.nodes import sidecar as sidecar_process
from config.settings import REPO_ROOT, get_settings


@pytest.fixture(scope="session")
def engine() -> Iterator[str]:
    """Base URL of a running engine: reuse one that answers, else start ours and stop it after.

    ``DIVRANK_KEEP_ENGINE=1`` leaves an engine we started running (handy between local runs).
    """
    settings = get_settings()
    url = settings.opensearch_url.rstrip("/")
    if engine_ctl.health(url) is not None:
        yield url
        return
    started = engine_ctl.up(settings)
    try:
        yield started.url
    finally:
        if os.environ.get("DIVRANK_KEEP_ENGINE") != "1":
            engine_ctl.down(settings)


@pytest.fixture(scope="session")
def es_engine() -> Iterator[str]:
    """Base URL of a running Elasticsearch (``DIVRANK_ELASTICSEARCH_URL``): reuse or start one.

    Started with ``divrank engine up --engine elasticsearch`` when nothing answers, and stopped
    at the end unless ``DIVRANK_KEEP_ENGINE=1``.
    """
    from cli.nodes import elasticsearch as es_ctl

    settings = get_settings()
    url = settings.elasticsearch_url.rstrip("/")
    if engine_ctl.health(url) is not None:
        yield url
        return
    started = es_ctl.up(settings)
    try:
        yield started.url
    finally:
        if os.environ.get("DIVRANK_KEEP_ENGINE") != "1":
            es_ctl.down(settings)


# --- sidecar processes ------------------------------------------------------------------------


@dataclass
class SidecarProc:
    """A ``divrank serve`` subprocess, leader of its own process group, so a signal reaches it
    (and its workers) and nothing else."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]  # its stderr: a file, so a chatty sidecar can never block on a full pipe

    def send(self, sig: signal.Signals, group: bool = True) -> None:
        try:
            if group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        except ProcessLookupError:
            pass

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
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return SidecarProc(url, port, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    what = f"exited ({proc.returncode})"
    if proc.poll() is None:
        what = "did not answer /healthz within 60 s"
        os.killpg(proc.pid, signal.SIGKILL)
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
