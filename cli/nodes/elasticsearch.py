"""A real single-node Elasticsearch on this machine, fetched from Maven Central (no Docker).

Why Maven: ``org.elasticsearch.distribution.integ-test-zip:elasticsearch`` is the one
Elasticsearch server a package registry serves here (no bundled JDK; it runs on
``DIVRANK_JAVA_HOME``). The zip carries the server (``dense_vector`` + kNN search live in the
server itself) and the x-pack core and security modules only. Security is switched off: the
node listens on loopback only, like the OpenSearch dev node. The zip also leaves out the
``reindex`` module (no ``_reindex``), data streams and the root endpoint. The native
``diversify`` (MMR) retriever is in the server, but on 9.5.4 it returns no hits from an index
with ``index.mapping.exclude_source_vectors: false`` (ours, for the hook); see
:mod:`evaluation.es_diversify`.

Start, stop and the unprivileged user are shared with OpenSearch (:mod:`cli.nodes.process`);
everything lives under ``<engine_home>/elasticsearch`` (git-ignored).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from cli.nodes import process as node_process
from cli.nodes.opensearch import EngineError, EngineStatus
from config.settings import Settings

__all__ = ["clean", "down", "es_url", "install", "status", "up"]

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def es_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.es_port}"


def _root(settings: Settings) -> Path:
    return settings.engine_home / "elasticsearch"


def _home(settings: Settings) -> Path:
    return _root(settings) / f"elasticsearch-{settings.es_version}"


def _pid_file(settings: Settings) -> Path:
    return _root(settings) / "elasticsearch.pid"


def _log_file(settings: Settings) -> Path:
    return _root(settings) / "setup.log"


def _java_env(settings: Settings) -> dict[str, str]:
    return node_process.java_env(
        settings.java_home, f"Elasticsearch {settings.es_version}", "ES_JAVA_HOME",
        drop=("ES_JAVA_OPTS",),
    )


def _fetch(settings: Settings, report: Report) -> Path:
    """The server zip out of Maven (downloaded once, then cached in ~/.m2)."""
    v = settings.es_version
    downloads = _root(settings) / "downloads"
    target = downloads / f"elasticsearch-{v}.zip"
    if not target.exists():
        coordinate = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{v}:zip"
        report(f"fetching {coordinate} from Maven Central")
        node_process.run_step(
            ["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={coordinate}",
             f"-DoutputDirectory={downloads}"],
            _log_file(settings), _java_env(settings),
        )
    return target


def _configure(settings: Settings, home: Path) -> None:
    data = _root(settings) / "data"
    logs = _root(settings) / "logs"
    data.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    cfg = [
        "# written by divrank (cli/nodes/elasticsearch.py); edits are overwritten on `engine up`",
        "cluster.name: divrank-es-dev",
        "node.name: divrank-es-1",
        "network.host: 127.0.0.1",
        f"http.port: {settings.es_port}",
        f"transport.port: {settings.es_port + 100}",
        "discovery.type: single-node",
        f"path.data: {data}",
        f"path.logs: {logs}",
        # Loopback development node: no TLS, no users (the zip enables security by default).
        "xpack.security.enabled: false",
        "cluster.routing.allocation.disk.threshold_enabled: false",
    ]
    (home / "config" / "elasticsearch.yml").write_text("\n".join(cfg) + "\n")
    jvm = home / "config" / "jvm.options.d"
    jvm.mkdir(exist_ok=True)
    heap = settings.es_heap
    (jvm / "divrank-heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")


def install(settings: Settings, report: Report = _quiet) -> Path:
    """Fetch and unpack the server, write its configuration; idempotent."""
    _root(settings).mkdir(parents=True, exist_ok=True)
    home = _home(settings)
    server_zip = _fetch(settings, report)
    if not (home / "bin" / "elasticsearch").exists():
        report(f"unpacking {server_zip.name}")
        with zipfile.ZipFile(server_zip) as zf:
            zf.extractall(_root(settings))
        for script in (home / "bin").iterdir():
            script.chmod(0o755)
        launcher = home / "lib" / "cli-launcher"
        if launcher.is_dir():
            for jar in launcher.iterdir():
                jar.chmod(0o644)
    _configure(settings, home)
    return home


def status(settings: Settings) -> EngineStatus:
    url = es_url(settings)
    colour = node_process.health(url)
    return EngineStatus(
        running=colour is not None,
        pid=node_process.read_pid(_pid_file(settings)),
        url=url,
        health=colour,
    )


def _wait_green(settings: Settings) -> None:
    url = es_url(settings)
    started = time.monotonic()
    deadline = started + settings.engine_start_timeout_s
    while time.monotonic() < deadline:
        if node_process.health(url) == "green":
            return
        if time.monotonic() - started > 45 and node_process.read_pid(_pid_file(settings)) is None:
            break
        time.sleep(1.0)
    log = _root(settings) / "logs" / "divrank-es-dev.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
    raise EngineError(
        f"Elasticsearch did not turn green at {url} within "
        f"{settings.engine_start_timeout_s:.0f}s. Is port {settings.es_port} taken "
        f"(DIVRANK_ES_PORT)? Log tail ({log}):\n{tail}"
    )


def up(settings: Settings, report: Report = _quiet) -> EngineStatus:
    """Install if needed, start, wait for green. A running healthy node is left as is."""
    with node_process.exclusive(_root(settings) / "engine.lock"):
        return _up(settings, report)


def _up(settings: Settings, report: Report) -> EngineStatus:
    current = status(settings)
    if current.running:
        if current.pid is None:
            report(f"an engine already answers at {current.url}; reusing it ({current.health})")
        else:
            report(f"Elasticsearch already running at {current.url} ({current.health})")
        return current
    home = install(settings, report)
    owner = node_process.engine_user()
    if owner is not None:
        node_process.chown_tree(_root(settings), *owner)
    env = _java_env(settings)
    cmd = [str(home / "bin" / "elasticsearch"), "-d", "-p", str(_pid_file(settings))]
    if owner is not None:
        uid, gid = owner
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd]
        env["HOME"] = str(_root(settings))
    report(f"starting Elasticsearch {settings.es_version} on {es_url(settings)}")
    with _log_file(settings).open("a") as out:
        launcher = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if launcher.returncode != 0:
        tail = "\n".join(_log_file(settings).read_text(errors="replace").splitlines()[-20:])
        raise EngineError(f"Elasticsearch failed to start (exit {launcher.returncode}):\n{tail}")
    _wait_green(settings)
    # A single node can never allocate replicas: default new indices to 0 so they go green.
    node_process.put_json(f"{es_url(settings)}/_index_template/divrank-single-node", {
        "index_patterns": ["*"], "priority": 0,
        "template": {"settings": {"number_of_replicas": 0}},
    })
    final = status(settings)
    report(f"Elasticsearch up at {final.url} ({final.health})")
    return final


def down(settings: Settings, report: Report = _quiet, timeout_s: float = 60.0) -> bool:
    """Stop the node started by :func:`up` (by pid). Returns whether one was running."""
    with node_process.exclusive(_root(settings) / "engine.lock"):
        pid = node_process.stop_pid(_pid_file(settings), timeout_s)
    if pid is None:
        report("Elasticsearch not running")
        return False
    report(f"Elasticsearch stopped (pid {pid})")
    return True


def clean(settings: Settings) -> None:
    """Remove the unpacked server and its data (the download stays cached)."""
    down(settings)
    for child in (_home(settings), _root(settings) / "data", _root(settings) / "logs"):
        shutil.rmtree(child, ignore_errors=True)
