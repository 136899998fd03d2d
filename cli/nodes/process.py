"""A local JVM search node as a process: unprivileged user, setup steps, ownership, health.

OpenSearch and Elasticsearch both refuse to run as root, daemonise with ``-d -p PIDFILE`` and
answer ``/_cluster/health``; :mod:`cli.nodes.local_node` runs both with these pieces.

Ownership: a pid file outlives its process (SIGKILL leaves it behind) and pids are recycled
(``pid_max`` 32768 here), so "signal the pid in the file" can hit any process, another
session's engine included. Every start therefore records (pid, start time) and every signal
first checks that the live process still has both (:class:`Owned`); a group is signalled only
through its live leader, and a session we created is found by its session id.
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
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENGINE_USER",
    "NodeError",
    "NotOurs",
    "Owned",
    "chown_tree",
    "claim",
    "cmdline",
    "engine_user",
    "exclusive",
    "health",
    "identify",
    "java_env",
    "load_owner",
    "owner_of",
    "put_json",
    "read_pid",
    "run_step",
    "save_owner",
    "send",
    "session_members",
    "stop_owned",
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


@dataclass(frozen=True)
class Owned:
    """A process we started: pid plus its kernel start time (``/proc/<pid>/stat`` field 22,
    clock ticks since boot). Pids are recycled (``pid_max`` is 32768 here); the pair is not, so
    a signal goes to this process or to none."""

    pid: int
    start: int

    def alive(self) -> bool:
        """Still the same process (a zombie child of ours counts as gone)."""
        stat = _stat(self.pid)
        return stat is not None and stat[0] != "Z" and int(stat[19]) == self.start


class NotOurs(NodeError):
    """A pid file names a live process that is not the one we started: never signalled."""


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of ``/proc/<pid>/stat`` (the command name may hold spaces and parens)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return text.rsplit(")", 1)[1].split()


def identify(pid: int) -> Owned | None:
    """The (pid, start time) of a live process, None when there is none."""
    stat = _stat(pid)
    if stat is None or stat[0] == "Z":
        return None
    return Owned(pid, int(stat[19]))


def session_members(leader: Owned) -> list[Owned]:
    """Live processes in the session ``leader`` created (``start_new_session``), itself
    included: children that made process groups of their own are still found here. A session
    id is not reused while a member lives, and each member started after the leader."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[0] == "Z" or int(stat[3]) != leader.pid:
            continue
        if int(stat[19]) >= leader.start:
            members.append(Owned(int(entry.name), int(stat[19])))
    return members


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def save_owner(path: Path, owned: Owned, **extra: object) -> None:
    path.write_text(json.dumps({"pid": owned.pid, "start": owned.start, **extra}))


def load_owner(path: Path) -> tuple[Owned, dict[str, object]] | None:
    """The record written by :func:`save_owner`; None when absent or unreadable."""
    try:
        data = json.loads(path.read_text())
        return Owned(int(data["pid"]), int(data["start"])), data
    except (OSError, ValueError, KeyError, TypeError):
        return None


def send(owned: Owned, sig: signal.Signals, group: bool = False) -> bool:
    """Signal ``owned`` (or the process group it leads) only while it is still that process.

    Checked right before the signal: False when it is gone (nothing sent). A group is signalled
    only through its live leader, so a recycled group id is never hit.
    """
    if not owned.alive():
        return False
    try:
        if group:
            os.killpg(owned.pid, sig)
        else:
            os.kill(owned.pid, sig)
    except ProcessLookupError:
        return False
    return True


def stop_owned(owned: Owned, timeout_s: float = 60.0, group: bool = False) -> bool:
    """SIGTERM, then SIGKILL after ``timeout_s``; each signal only to the very process we own.
    Returns whether it was running."""
    if not send(owned, signal.SIGTERM, group):
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and owned.alive():
        time.sleep(0.3)
    if owned.alive():
        send(owned, signal.SIGKILL, group)
        kill_deadline = time.monotonic() + 10
        while time.monotonic() < kill_deadline and owned.alive():
            time.sleep(0.1)
    return True


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` when some process with it is alive, else None (no identity
    check: use :func:`claim` / :func:`load_owner` before signalling)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if identify(pid) is not None else None


def claim(pid_file: Path, owner_file: Path, marker: str) -> Owned:
    """Record the daemon that wrote ``pid_file`` as ours, after checking its command line
    names ``marker`` (its install home): a pid file alone may point at anything."""
    pid = read_pid(pid_file)
    owned = identify(pid) if pid is not None else None
    if owned is None:
        raise NodeError(f"{pid_file} names no live process; the node died during start-up")
    if not any(marker in arg for arg in cmdline(pid or 0)):
        raise NotOurs(
            f"{pid_file} names pid {pid}, which is not a node started from {marker}; "
            "refusing to record or signal it"
        )
    save_owner(owner_file, owned, home=marker)
    return owned


def owner_of(pid_file: Path, owner_file: Path, marker: str) -> Owned | None:
    """Our node behind ``pid_file``: the recorded (pid, start time) must still match, else
    :class:`NotOurs` (a live stranger) or None (gone; stale files removed).

    A pid file without a record (a node started before records existed) is adopted only when
    the live process's command line names ``marker``.
    """
    record = load_owner(owner_file)
    if record is not None:
        owned = record[0]
        if owned.alive():
            return owned
        other = identify(owned.pid)
        owner_file.unlink(missing_ok=True)
        pid_file.unlink(missing_ok=True)
        if other is not None:
            raise NotOurs(
                f"pid {owned.pid} from {owner_file} now belongs to another process (started "
                f"at tick {other.start}, ours at {owned.start}); not signalled, stale record "
                "removed"
            )
        return None
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return None
    if not any(marker in arg for arg in cmdline(pid)):
        raise NotOurs(
            f"{pid_file} names pid {pid}, a live process that is not a node started from "
            f"{marker} ({' '.join(cmdline(pid))[:120]!r}); refusing to signal it"
        )
    return identify(pid)


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
