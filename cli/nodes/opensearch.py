"""A real single-node OpenSearch on this machine, fetched from Maven Central (no Docker).

Why Maven: it is the one registry that serves the OpenSearch server (the integ-test zip, no
bundled JDK) and the k-NN plugin zip, and ``mvn dependency:copy`` caches both in the local
Maven repository, so a second ``up`` on the same machine downloads nothing. The k-NN zip has
no native faiss/nmslib libraries: vector fields use the lucene engine (HNSW).

OpenSearch refuses to run as root; when we are root the engine runs as a dedicated system
user (``divrank``) via ``setpriv`` (shared with Elasticsearch: :mod:`cli.nodes.process`).
Everything lives under ``Settings.engine_home``
(git-ignored): the unpacked server, its data and logs, the pid file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cli.nodes import process as node_process
from cli.nodes.process import NodeError, health
from config.settings import REPO_ROOT, Settings

__all__ = [
    "EngineError",
    "EngineStatus",
    "clean",
    "down",
    "engine_url",
    "health",
    "install",
    "status",
    "up",
]

Report = Callable[[str], None]
ENGINE_USER = node_process.ENGINE_USER
KNN_PLUGIN = "opensearch-knn"
DIVRANK_PLUGIN = "divrank"
PLUGIN_DIR = REPO_ROOT / "plugin"


# One error type for both engines (OpenSearch here, Elasticsearch in es_engine).
EngineError = NodeError


@dataclass(frozen=True)
class EngineStatus:
    running: bool
    pid: int | None
    url: str
    health: str | None  # green / yellow / red, None when not answering
    plugins: tuple[str, ...] = ()


def _quiet(_: str) -> None:
    return None


def engine_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.engine_port}"


def _home(settings: Settings) -> Path:
    return settings.engine_home / f"opensearch-{settings.engine_version}"


def _pid_file(settings: Settings) -> Path:
    return settings.engine_home / "opensearch.pid"


def _log_file(settings: Settings) -> Path:
    return settings.engine_home / "setup.log"


def _java_env(settings: Settings) -> dict[str, str]:
    return node_process.java_env(
        settings.java_home, f"OpenSearch {settings.engine_version}", "OPENSEARCH_JAVA_HOME"
    )


def _run(cmd: list[str], settings: Settings, cwd: Path | None = None) -> None:
    """Run a setup step, logging its output to setup.log; fail with the log's tail."""
    node_process.run_step(cmd, _log_file(settings), _java_env(settings), cwd)


def _fetch(settings: Settings, report: Report) -> tuple[Path, Path]:
    """Copy the server and k-NN zips out of Maven (downloaded once, then cached in ~/.m2)."""
    v = settings.engine_version
    dl = settings.engine_home / "downloads"
    server = dl / f"opensearch-{v}.zip"
    knn = dl / f"opensearch-knn-{v}.0.zip"
    artifacts = [
        (server, f"org.opensearch.distribution.integ-test-zip:opensearch:{v}:zip"),
        (knn, f"org.opensearch.plugin:opensearch-knn:{v}.0:zip"),
    ]
    for target, coordinate in artifacts:
        if target.exists():
            continue
        report(f"fetching {coordinate} from Maven Central")
        _run(["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={coordinate}",
              f"-DoutputDirectory={dl}"], settings)
    return server, knn


def _installed_plugins(home: Path) -> set[str]:
    plugins = home / "plugins"
    return {p.name for p in plugins.iterdir()} if plugins.exists() else set()


def _plugin_zip(settings: Settings, report: Report) -> Path:
    """Build our plugin against the engine version (Maven), return its zip."""
    releases = PLUGIN_DIR / "target" / "releases"
    report("building the divrank plugin (mvn package)")
    _run(["mvn", "-B", "-q", "package", "-DskipTests"], settings, cwd=PLUGIN_DIR)
    zips = sorted(releases.glob("divrank*.zip"))
    if not zips:
        raise EngineError(f"mvn package produced no plugin zip under {releases}")
    return zips[-1]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _configure(settings: Settings, home: Path) -> None:
    data = settings.engine_home / "data"
    logs = settings.engine_home / "logs"
    data.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    cfg = [
        "# written by divrank (cli/nodes/opensearch.py); edits are overwritten on `divrank engine up`",
        "cluster.name: divrank-dev",
        "node.name: divrank-node-1",
        "network.host: 127.0.0.1",
        f"http.port: {settings.engine_port}",
        f"transport.port: {settings.engine_port + 100}",
        "discovery.type: single-node",
        f"path.data: {data}",
        f"path.logs: {logs}",
        # Development box: a nearly full disk must not turn the cluster read-only mid-test.
        "cluster.routing.allocation.disk.threshold_enabled: false",
        # OpenSearch's native MMR (a baseline we compare against) needs these factories.
        "cluster.search.enabled_system_generated_factories: "
        "[mmr_over_sample_factory, mmr_rerank_factory]",
    ]
    (home / "config" / "opensearch.yml").write_text("\n".join(cfg) + "\n")
    # 2 cores / 24 GiB: a fixed heap avoids resize pauses and leaves room for the page cache
    # that the HNSW graphs and the sidecar need.
    jvm = home / "config" / "jvm.options.d"
    jvm.mkdir(exist_ok=True)
    heap = settings.engine_heap
    (jvm / "divrank-heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")


def install(settings: Settings, report: Report = _quiet, reinstall_plugin: bool = False) -> Path:
    """Unpack the server, install k-NN and our plugin; idempotent."""
    settings.engine_home.mkdir(parents=True, exist_ok=True)
    home = _home(settings)
    server_zip, knn_zip = _fetch(settings, report)
    if not (home / "bin" / "opensearch").exists():
        report(f"unpacking {server_zip.name}")
        with zipfile.ZipFile(server_zip) as zf:
            zf.extractall(settings.engine_home)
        for script in (home / "bin").iterdir():
            script.chmod(0o755)
    plugin_tool = str(home / "bin" / "opensearch-plugin")
    if KNN_PLUGIN not in _installed_plugins(home):
        report("installing the k-NN plugin")
        _run([plugin_tool, "install", "--batch", knn_zip.as_uri()], settings)
    ours = _plugin_zip(settings, report)
    marker = settings.engine_home / "divrank-plugin.sha256"
    digest = _sha256(ours)
    stale = not marker.exists() or marker.read_text().strip() != digest
    if DIVRANK_PLUGIN in _installed_plugins(home) and (stale or reinstall_plugin):
        report("removing the previous divrank plugin")
        _run([plugin_tool, "remove", DIVRANK_PLUGIN], settings)
    if DIVRANK_PLUGIN not in _installed_plugins(home):
        report(f"installing {ours.name}")
        _run([plugin_tool, "install", "--batch", ours.as_uri()], settings)
        marker.write_text(digest)
    _configure(settings, home)
    return home


_engine_user = node_process.engine_user
_chown_tree = node_process.chown_tree


def _read_pid(settings: Settings) -> int | None:
    return node_process.read_pid(_pid_file(settings))


def _plugins(url: str) -> tuple[str, ...]:
    try:
        with urllib.request.urlopen(f"{url}/_cat/plugins?format=json", timeout=5) as resp:
            return tuple(sorted({row["component"] for row in json.load(resp)}))
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return ()


def status(settings: Settings) -> EngineStatus:
    url = engine_url(settings)
    pid = _read_pid(settings)
    colour = health(url)
    return EngineStatus(
        running=colour is not None, pid=pid, url=url, health=colour,
        plugins=_plugins(url) if colour else (),
    )


_put_json = node_process.put_json


def _wait_green(settings: Settings) -> None:
    url = engine_url(settings)
    started = time.monotonic()
    deadline = started + settings.engine_start_timeout_s
    while time.monotonic() < deadline:
        if health(url) == "green":
            return
        # The daemon writes its pid file once bootstrapped; after a grace period, no pid and
        # no answer means it died during start-up: fail now rather than at the deadline.
        if time.monotonic() - started > 45 and _read_pid(settings) is None and not health(url):
            break
        time.sleep(1.0)
    log = settings.engine_home / "logs" / "divrank-dev.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
    raise EngineError(
        f"OpenSearch did not turn green at {url} within {settings.engine_start_timeout_s:.0f}s. "
        f"Is port {settings.engine_port} taken (DIVRANK_ENGINE_PORT)? Log tail ({log}):\n{tail}"
    )


@contextlib.contextmanager
def _exclusive(settings: Settings) -> Iterator[None]:
    """One `up`/`down` at a time per engine home (see :func:`node_process.exclusive`)."""
    with node_process.exclusive(settings.engine_home / "engine.lock"):
        yield


def up(settings: Settings, report: Report = _quiet, reinstall_plugin: bool = False) -> EngineStatus:
    """Install if needed, start, wait for green. A running healthy engine is left as is."""
    with _exclusive(settings):
        return _up(settings, report, reinstall_plugin)


def _up(settings: Settings, report: Report, reinstall_plugin: bool) -> EngineStatus:
    current = status(settings)
    if current.running and not reinstall_plugin:
        report(f"engine already running at {current.url} ({current.health})")
        return current
    if current.running and current.pid is None:
        raise EngineError(
            f"an engine answers on port {settings.engine_port} but was not started from "
            f"{settings.engine_home}; stop it first or choose DIVRANK_ENGINE_PORT"
        )
    if current.running:
        _down(settings, report)
    home = install(settings, report, reinstall_plugin=reinstall_plugin)
    owner = _engine_user()
    if owner is not None:
        _chown_tree(settings.engine_home, *owner)
    env = _java_env(settings)
    env.pop("OPENSEARCH_JAVA_OPTS", None)
    cmd = [str(home / "bin" / "opensearch"), "-d", "-p", str(_pid_file(settings))]
    if owner is not None:
        uid, gid = owner
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd]
        env["HOME"] = str(settings.engine_home)
    report(f"starting OpenSearch {settings.engine_version} on {engine_url(settings)}")
    with _log_file(settings).open("a") as out:
        launcher = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if launcher.returncode != 0:
        tail = "\n".join(_log_file(settings).read_text(errors="replace").splitlines()[-20:])
        raise EngineError(f"OpenSearch failed to start (exit {launcher.returncode}):\n{tail}")
    _wait_green(settings)
    # A single node can never allocate replicas: default new indices to 0 so they go green.
    _put_json(f"{engine_url(settings)}/_index_template/divrank-single-node", {
        "index_patterns": ["*"], "priority": 0,
        "template": {"settings": {"number_of_replicas": 0}},
    })
    final = status(settings)
    report(f"engine up at {final.url} ({final.health}); plugins: {', '.join(final.plugins)}")
    return final


def down(settings: Settings, report: Report = _quiet, timeout_s: float = 60.0) -> bool:
    """Stop the engine by pid (SIGTERM, then SIGKILL). Returns whether one was running."""
    with _exclusive(settings):
        return _down(settings, report, timeout_s)


def _down(settings: Settings, report: Report = _quiet, timeout_s: float = 60.0) -> bool:
    pid = node_process.stop_pid(_pid_file(settings), timeout_s)
    if pid is None:
        report("engine not running")
        return False
    report(f"engine stopped (pid {pid})")
    return True


def clean(settings: Settings) -> None:
    """Remove the unpacked server and its data (downloads stay cached)."""
    down(settings)
    for child in (_home(settings), settings.engine_home / "data", settings.engine_home / "logs"):
        shutil.rmtree(child, ignore_errors=True)
