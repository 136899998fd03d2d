"""Run ``divrank serve`` in the background for the demo: pid file, log, wait for ``/readyz``.

``make demo`` starts the sidecar and ``make down`` stops it; both must be safe to repeat. The
sidecar runs in its own session (process group), so stopping it by pid also ends its workers.
A pid file whose process is gone, or is no longer our sidecar, is stale and removed; a port
held by some other program is reported, never killed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from cli.nodes import process as node_process
from cli.nodes.process import Owned
from config.settings import REPO_ROOT, Settings

__all__ = [
    "SidecarError",
    "SidecarStatus",
    "free_port",
    "log_path",
    "pid_path",
    "start",
    "status",
    "stop",
    "throwaway",
]

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class SidecarError(RuntimeError):
    """The sidecar could not be started or did not become ready; the message says why."""


@dataclass(frozen=True)
class SidecarStatus:
    url: str
    pid: int | None  # ours, from the pid file (None: not started by us)
    answering: bool  # something answers /healthz at url
    ready: bool  # /readyz said ready
    checks: dict[str, str]


def pid_path(settings: Settings) -> Path:
    return settings.cache_dir / "sidecar.pid"


def log_path(settings: Settings) -> Path:
    return settings.cache_dir / "sidecar.log"


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{shown}:{port}"


def _alive(pid: int) -> bool:
    return node_process.identify(pid) is not None


def _is_sidecar(pid: int) -> bool:
    """Is ``pid`` a ``divrank serve`` process (by its command line)?"""
    args = node_process.cmdline(pid)
    return "serve" in args and any("divrank" in a or "cli.main" in a for a in args)


def _owned(settings: Settings, report: Report = _quiet) -> tuple[Owned, str] | None:
    """(process, url) of the sidecar this cache dir started, checked by pid *and* start time
    (and command line); anything else in the pid file is stale: removed, never signalled."""
    path = pid_path(settings)
    try:
        data = json.loads(path.read_text())
        pid, url = int(data["pid"]), str(data["url"])
        start = data.get("start")
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    live = node_process.identify(pid)
    if live is not None and (start is None or live.start == int(start)) and _is_sidecar(pid):
        return live, url
    if live is not None:
        shown = " ".join(node_process.cmdline(pid))[:80]
        report(
            f"refusing to signal pid {pid} from {path}: it is not the sidecar started there "
            f"(start time {live.start} vs recorded {start}; {shown!r}); stale pid file removed"
        )
    path.unlink(missing_ok=True)
    return None


def _read_pid(settings: Settings) -> tuple[int, str] | None:
    """(pid, url) of our running sidecar; a stale pid file is removed."""
    ours = _owned(settings)
    return (ours[0].pid, ours[1]) if ours else None


def _probe(url: str) -> tuple[bool, bool, dict[str, str]]:
    """(answering, ready, checks) of whatever listens at ``url``."""
    try:
        health = httpx.get(f"{url}/healthz", timeout=2.0)
    except httpx.HTTPError:
        return False, False, {}
    if health.status_code != 200:
        return False, False, {}
    try:
        ready = httpx.get(f"{url}/readyz", timeout=5.0)
        body = ready.json()
    except (httpx.HTTPError, ValueError):
        return True, False, {}
    checks = body.get("checks") if isinstance(body, dict) else None
    return True, ready.status_code == 200, checks if isinstance(checks, dict) else {}


def status(settings: Settings, host: str | None = None, port: int | None = None) -> SidecarStatus:
    """Our sidecar (pid file) if it runs, else whatever answers at host:port."""
    ours = _read_pid(settings)
    url = ours[1] if ours else _url(host or settings.host, port or settings.port)
    answering, ready, checks = _probe(url)
    return SidecarStatus(url, ours[0] if ours else None, answering, ready, checks)


def start(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    timeout_s: float = 60.0,
    report: Report = _quiet,
    env: dict[str, str | None] | None = None,
) -> SidecarStatus:
    """Start the sidecar in the background unless ours already runs; wait for ``/readyz``.

    ``env`` overrides the inherited environment; a ``None`` value removes that variable.
    """
    host = host or settings.host
    port = port or settings.port
    current = status(settings, host, port)
    if current.pid is not None:
        report(f"sidecar already running at {current.url} (pid {current.pid})")
        return _wait_ready(settings, current.url, current.pid, timeout_s, None)
    if current.answering:
        raise SidecarError(
            f"something already answers at {current.url} but was not started by `divrank demo "
            f"sidecar start` (no pid file {pid_path(settings)}); stop it or choose DIVRANK_PORT"
        )
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    url = _url(host, port)
    child_env = dict(os.environ, HF_HUB_OFFLINE="1")
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    cmd = [sys.executable, "-m", "cli.main", "serve", "--host", host, "--port", str(port)]
    with log_path(settings).open("a") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n")
        log.flush()
        process = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=child_env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    started = node_process.identify(process.pid)
    pid_path(settings).write_text(json.dumps({
        "pid": process.pid, "start": started.start if started else None, "url": url,
    }))
    report(f"sidecar starting at {url} (pid {process.pid}, log {log_path(settings)})")
    return _wait_ready(settings, url, process.pid, timeout_s, process)


def _tail(settings: Settings, lines: int = 15) -> str:
    try:
        text = log_path(settings).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_ready(
    settings: Settings,
    url: str,
    pid: int,
    timeout_s: float,
    process: subprocess.Popen[bytes] | None,
) -> SidecarStatus:
    deadline = time.monotonic() + timeout_s
    answering, ready = False, False
    checks: dict[str, str] = {}
    while time.monotonic() < deadline:
        exited = process.poll() if process is not None else (None if _alive(pid) else -1)
        if exited is not None:
            pid_path(settings).unlink(missing_ok=True)
            raise SidecarError(
                f"the sidecar exited (code {exited}) before it was ready; "
                f"log {log_path(settings)}:\n{_tail(settings)}"
            )
        answering, ready, checks = _probe(url)
        if ready:
            return SidecarStatus(url, pid, True, True, checks)
        time.sleep(0.3)
    what = f"answers but is not ready ({checks})" if answering else "does not answer"
    raise SidecarError(
        f"the sidecar at {url} (pid {pid}) {what} after {timeout_s:.0f} s; it keeps running "
        f"(stop it with `divrank demo sidecar stop`); log {log_path(settings)}:\n{_tail(settings)}"
    )


def stop(settings: Settings, report: Report = _quiet, timeout_s: float = 15.0) -> bool:
    """Stop our sidecar (SIGTERM to the group it leads, then SIGKILL), each signal only after
    its pid and start time match the pid file. False: none of ours was running."""
    ours = _owned(settings, report)
    if ours is None:
        report("sidecar not running (no live pid file of ours)")
        return False
    owned, url = ours
    leads_group = os.getpgid(owned.pid) == owned.pid if owned.alive() else False
    node_process.stop_owned(owned, timeout_s, group=leads_group)
    pid_path(settings).unlink(missing_ok=True)
    report(f"sidecar at {url} stopped (pid {owned.pid})")
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway(
    env: dict[str, str] | None = None, workers: int = 1, timeout_s: float = 90.0
) -> Iterator[SidecarStatus]:
    """A sidecar on a free loopback port with its pid file and log in a temporary folder.

    For benchmarks and tests that need their own sidecar beside the demo's: it is ready when
    the block starts and stopped (SIGTERM to its group, then SIGKILL) when the block ends.
    ``env`` adds ``DIVRANK_*`` variables for the child (e.g. its engine URL or limits).
    """
    with tempfile.TemporaryDirectory(prefix="divrank-sidecar-") as tmp:
        settings = Settings(cache_dir=Path(tmp), port=free_port(), workers=workers)
        child_env = {"DIVRANK_WORKERS": str(workers), **(env or {})}
        try:
            yield start(settings, timeout_s=timeout_s, env=child_env)
        finally:
            stop(settings)
