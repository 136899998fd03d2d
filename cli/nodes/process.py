"""A local JVM search node as a process: unprivileged user, setup steps, pid, lock, health.

OpenSearch and Elasticsearch both refuse to run as root, daemonise with ``-d -p PIDFILE`` and
answer ``/_cluster/health``; :mod:`cli.nodes.opensearch` and :mod:`cli.nodes.elasticsearch`
share these pieces so their start/stop behaviour stays the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "ENGINE_USER",
    "NodeError",
    "chown_tree",
    "engine_user",
    "exclusive",
    "health",
    "java_env",
    "put_json",
    "read_pid",
    "run_step",
    "stop_pid",
]

ENGINE_USER = "divrank"


class NodeError(RuntimeError):
    """A failure a person can act on; the CLI prints the message without a traceback."""


def java_env(
    java_home: Path, product: str, home_var: str, drop: tuple[str, ...] = ()
) -> dict[str, str]:
    """The environment a JVM engine's scripts run with: our JDK first, ``drop`` removed.

    Fails with an actionable message when the JDK is missing (3.x/9.x need Java 21+).
    """
    if not (java_home / "bin" / "java").exists():
        raise NodeError(
            f"No Java at {java_home} (DIVRANK_JAVA_HOME). {product} needs Java 21 or newer; "
            "point DIVRANK_JAVA_HOME at such a JDK."
        )
    env = dict(os.environ)
    env["JAVA_HOME"] = str(java_home)
    env[home_var] = str(java_home)
    env["PATH"] = f"{java_home / 'bin'}:{env.get('PATH', '')}"
    for name in drop:
        env.pop(name, None)
    return env


def run_step(cmd: list[str], log: Path, env: dict[str, str], cwd: Path | None = None) -> None:
    """Run a setup step, appending its output to ``log``; fail with the log's tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise NodeError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}); see {log}:\n{tail}")


def engine_user() -> tuple[int, int] | None:
    """Root may not run the node: create (once) and use an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(ENGINE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             ENGINE_USER],
            check=True, capture_output=True,
        )
        entry = pwd.getpwnam(ENGINE_USER)
    return entry.pw_uid, entry.pw_gid


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` when that process is alive, else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def stop_pid(pid_file: Path, timeout_s: float = 60.0) -> int | None:
    """SIGTERM the pid in ``pid_file``, SIGKILL after ``timeout_s``; the pid stopped or None."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return pid


def health(url: str, timeout: float = 2.0) -> str | None:
    """Cluster health colour, or None when nothing answers at ``url``."""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as resp:
            return str(json.load(resp)["status"])
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


def put_json(url: str, body: dict[str, object]) -> None:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30):
        pass


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """One `up`/`down` at a time per node: two concurrent starts would fight over the node
    lock and the loser would delete the winner's pid file on its way out."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
