"""Local search-engine nodes on 127.0.0.1, one implementation for OpenSearch and Elasticsearch.

Both are JVM servers fetched from Maven Central as integ-test zips (no bundled JDK, no Docker),
refuse to run as root, daemonise with ``-d -p PIDFILE``, read their config directory from an
environment variable and form a cluster from seed hosts. What differs lives in a
:class:`Dialect` (artifact coordinates, config keys and extra lines, environment names, plugin
installation); everything else here is shared.

Layout under the dialect's root (``Settings.engine_home``, or a folder in it): the unpacked
server, then node 1 in ``data/``, ``logs/``, ``<name>.pid`` with the server's own ``config/``
(so a one-node home looks as it always did), and node ``k > 1`` in ``node-k/`` with its own
copy of the config. Node ``k`` listens on ``port + k - 1`` (HTTP) and ``port + 100 + k - 1``
(transport). Every start records (pid, start time) per node, and every signal is checked
against that record first (:mod:`cli.nodes.process`).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from cli.nodes import process as node_process
from cli.nodes.process import NodeError, NotOurs, Owned
from config.settings import Settings

__all__ = [
    "Dialect",
    "EngineStatus",
    "LocalCluster",
    "Node",
    "NodeState",
    "Report",
    "bindable",
    "cluster_health",
    "listening",
]

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Dialect:
    """What one engine does differently; the rest of a local node is the same."""

    product: str  # "OpenSearch"
    name: str  # binary, config file and pid file stem: "opensearch"
    coordinate: str  # Maven coordinate of the server zip, ``{v}`` = version
    version_field: str  # Settings fields
    port_field: str
    heap_field: str
    port_env: str  # the DIVRANK_ variable a person changes when the port is taken
    java_home_var: str
    conf_var: str
    cluster_name: str
    node_prefix: str
    manager_key: str  # cluster.initial_cluster_manager_nodes / cluster.initial_master_nodes
    extra_config: tuple[str, ...] = ()
    subdir: str = ""  # root = engine_home / subdir
    drop_env: tuple[str, ...] = ()
    # after unpacking: install plugins, fix file modes (settings, server home, report)
    prepare: Callable[[Settings, Path, Report], None] | None = None


@dataclass(frozen=True)
class Node:
    """One node's ports and files (``number`` from 1)."""

    number: int
    name: str
    http_port: int
    transport_port: int
    conf: Path
    data: Path
    logs: Path
    pid_file: Path

    @property
    def owner_file(self) -> Path:
        return self.pid_file.with_suffix(".owner.json")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@dataclass(frozen=True)
class NodeState:
    name: str
    url: str
    pid: int | None  # ours and alive, else None
    note: str = ""  # why a pid file was not trusted


@dataclass(frozen=True)
class EngineStatus:
    running: bool
    pid: int | None  # node 1's, when ours
    url: str
    health: str | None  # green / yellow / red, None when not answering
    plugins: tuple[str, ...] = ()
    nodes: tuple[NodeState, ...] = ()
    cluster_nodes: int = 0  # nodes in the cluster as the engine reports them
    started: bool = False  # this call started it (so the caller may stop it)


def cluster_health(url: str, timeout: float = 2.0) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as resp:
            body = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def listening(port: int) -> bool:
    """Does anything accept connections on 127.0.0.1:``port`` (answering or not)?"""
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def bindable(port: int) -> bool:
    """Could we listen on 127.0.0.1:``port`` right now?

    SO_REUSEADDR as the JVM sets it: the connections of a node just killed linger in TIME_WAIT
    on its port, which refuses a plain bind but not the restarted node; a listener still refuses.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class LocalCluster:
    """The local nodes of one dialect under one settings' home and port."""

    def __init__(self, dialect: Dialect, settings: Settings) -> None:
        self.dialect = dialect
        self.settings = settings
        self.version = str(getattr(settings, dialect.version_field))
        self.port = int(getattr(settings, dialect.port_field))
        self.heap = str(getattr(settings, dialect.heap_field))
        home = settings.engine_home
        self.root = home / dialect.subdir if dialect.subdir else home

    # --- layout ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def home(self) -> Path:
        return self.root / f"{self.dialect.name}-{self.version}"

    @property
    def setup_log(self) -> Path:
        return self.root / "setup.log"

    @property
    def lock_file(self) -> Path:
        return self.root / "engine.lock"

    @property
    def layout_file(self) -> Path:
        return self.root / "cluster.json"

    def node(self, number: int) -> Node:
        d = self.dialect
        first = number == 1
        base = self.root if first else self.root / f"node-{number}"
        return Node(
            number=number,
            name=f"{d.node_prefix}-{number}",
            http_port=self.port + number - 1,
            transport_port=self.port + 100 + number - 1,
            conf=self.home / "config" if first else base / "config",
            data=base / "data",
            logs=base / "logs",
            pid_file=base / f"{d.name}.pid",
        )

    def nodes(self, count: int) -> list[Node]:
        return [self.node(k) for k in range(1, count + 1)]

    def known_nodes(self) -> list[Node]:
        """Node 1 and every ``node-k`` folder under the root: what `down` and `status` cover."""
        extra = sorted(
            int(p.name.split("-", 1)[1]) for p in self.root.glob("node-*")
            if p.is_dir() and p.name.split("-", 1)[1].isdigit()
        ) if self.root.exists() else []
        return [self.node(1), *(self.node(k) for k in extra if k > 1)]

    def recorded_size(self) -> int | None:
        try:
            return int(json.loads(self.layout_file.read_text())["nodes"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    # --- install and configure --------------------------------------------------------------

    def java_env(self) -> dict[str, str]:
        d = self.dialect
        return node_process.java_env(
            self.settings.java_home, f"{d.product} {self.version}", d.java_home_var,
            drop=d.drop_env,
        )

    def run(self, cmd: list[str], cwd: Path | None = None) -> None:
        node_process.run_step(cmd, self.setup_log, self.java_env(), cwd)

    def fetch(self, coordinate: str, target: Path, report: Report) -> Path:
        """One Maven artifact copied to ``target`` (downloaded once, cached in ~/.m2)."""
        if not target.exists():
            report(f"fetching {coordinate} from Maven Central")
            self.run(["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={coordinate}",
                      f"-DoutputDirectory={target.parent}"])
        return target

    def install(self, report: Report = _quiet) -> Path:
        """Fetch and unpack the server, run the dialect's preparation; idempotent."""
        self.root.mkdir(parents=True, exist_ok=True)
        d = self.dialect
        server = self.fetch(
            d.coordinate.format(v=self.version),
            self.root / "downloads" / f"{d.name}-{self.version}.zip", report,
        )
        if not (self.home / "bin" / d.name).exists():
            report(f"unpacking {server.name}")
            with zipfile.ZipFile(server) as zf:
                zf.extractall(self.root)
            for script in (self.home / "bin").iterdir():
                script.chmod(0o755)
        if d.prepare is not None:
            d.prepare(self.settings, self.home, report)
        return self.home

    def configure(self, node: Node, count: int) -> None:
        """Write the node's ``<name>.yml`` and heap; nodes after the first get a config copy."""
        d = self.dialect
        node.data.mkdir(parents=True, exist_ok=True)
        node.logs.mkdir(parents=True, exist_ok=True)
        if node.number > 1:
            shutil.copytree(self.home / "config", node.conf, dirs_exist_ok=True)
        cfg = [
            "# written by divrank (cli/nodes/local_node.py); overwritten on `engine up`",
            f"cluster.name: {d.cluster_name}",
            f"node.name: {node.name}",
            "network.host: 127.0.0.1",
            f"http.port: {node.http_port}",
            f"transport.port: {node.transport_port}",
            f"path.data: {node.data}",
            f"path.logs: {node.logs}",
            # Development box: a nearly full disk must not turn the cluster read-only mid-test.
            "cluster.routing.allocation.disk.threshold_enabled: false",
            *d.extra_config,
        ]
        if count == 1:
            cfg.append("discovery.type: single-node")
        else:
            peers = self.nodes(count)
            cfg.append(
                "discovery.seed_hosts: ["
                + ", ".join(f'"127.0.0.1:{p.transport_port}"' for p in peers) + "]"
            )
            cfg.append(f"{d.manager_key}: [" + ", ".join(p.name for p in peers) + "]")
        (node.conf / f"{d.name}.yml").write_text("\n".join(cfg) + "\n")
        # A fixed heap avoids resize pauses and leaves the page cache to the HNSW graphs.
        jvm = node.conf / "jvm.options.d"
        jvm.mkdir(exist_ok=True)
        (jvm / "divrank-heap.options").write_text(f"-Xms{self.heap}\n-Xmx{self.heap}\n")

    # --- processes ------------------------------------------------------------------------

    def owned(self, node: Node) -> Owned | None:
        """Our live process for ``node`` (raises :class:`NotOurs` for a stranger's pid)."""
        return node_process.owner_of(node.pid_file, node.owner_file, str(self.home))

    def _launch(self, node: Node, owner: tuple[int, int] | None) -> None:
        env = self.java_env()
        env[self.dialect.conf_var] = str(node.conf)
        cmd = [str(self.home / "bin" / self.dialect.name), "-d", "-p", str(node.pid_file)]
        if owner is not None:
            uid, gid = owner
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd]
            env["HOME"] = str(self.root)
        with self.setup_log.open("a") as out:
            out.write(f"\n$ {' '.join(cmd)}  ({self.dialect.conf_var}={node.conf})\n")
            out.flush()
            launcher = subprocess.run(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
            )
        if launcher.returncode != 0:
            raise NodeError(
                f"{self.dialect.product} node {node.name} failed to start (exit "
                f"{launcher.returncode}):\n{self._tail(self.setup_log)}"
            )
        # OpenSearch's `-d` returns at once; the JVM writes its pid file early in bootstrap.
        deadline = time.monotonic() + self.settings.engine_start_timeout_s
        while node_process.read_pid(node.pid_file) is None and time.monotonic() < deadline:
            time.sleep(0.5)
        node_process.claim(node.pid_file, node.owner_file, str(self.home))

    @staticmethod
    def _tail(path: Path, lines: int = 20) -> str:
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def status(self) -> EngineStatus:
        body = cluster_health(self.url)
        colour = str(body["status"]) if body and "status" in body else None
        states = []
        for node in self.known_nodes():
            try:
                owned = self.owned(node)
                states.append(NodeState(node.name, node.url, owned.pid if owned else None))
            except NotOurs as exc:
                states.append(NodeState(node.name, node.url, None, str(exc)))
        count = body.get("number_of_nodes", 0) if body else 0
        return EngineStatus(
            running=colour is not None,
            pid=states[0].pid,
            url=self.url,
            health=colour,
            plugins=_plugins(self.url) if colour else (),
            nodes=tuple(states),
            cluster_nodes=int(count) if isinstance(count, int) else 0,
        )

    def up(self, count: int = 1, report: Report = _quiet, restart: bool = False) -> EngineStatus:
        """Install if needed, start ``count`` nodes, wait for green with all of them joined.

        An answering engine is left as it is (``restart``: stopped first, when it is ours).
        Nothing is launched while a port is taken or one of our nodes still runs: a second
        JVM would overwrite the live node's pid file.
        """
        if count < 1:
            raise NodeError(f"--nodes must be at least 1, got {count}")
        with node_process.exclusive(self.lock_file):
            return self._up(count, report, restart)

    def _up(self, count: int, report: Report, restart: bool) -> EngineStatus:
        d = self.dialect
        current = self.status()
        ours = [s for s in current.nodes if s.pid is not None]
        if current.running and not restart:
            report(f"{d.product} already running at {current.url} ({current.health}, "
                   f"{current.cluster_nodes} node(s))")
            return current
        if current.running and not ours:
            raise NodeError(
                f"an engine answers at {current.url} but was not started from {self.root}; "
                f"stop it first or choose {d.port_env}"
            )
        if ours:
            if not restart:
                raise NodeError(
                    f"{d.product} node(s) {', '.join(f'{s.name} (pid {s.pid})' for s in ours)} "
                    f"run from {self.root} but {self.url} does not answer yet; wait, or stop "
                    "them with `divrank engine down`"
                )
            self._down(report)
        recorded = self.recorded_size()
        if recorded is not None and recorded != count and any(self.node(1).data.glob("*")):
            raise NodeError(
                f"{self.root} holds the data of a {recorded}-node cluster; a {count}-node one "
                f"cannot reuse it: `divrank engine clean`, or choose DIVRANK_ENGINE_HOME"
            )
        nodes = self.nodes(count)
        taken = [p for n in nodes for p in (n.http_port, n.transport_port) if not bindable(p)]
        if taken:
            raise NodeError(
                f"port(s) {', '.join(map(str, taken))} on 127.0.0.1 are taken; choose "
                f"{d.port_env} (node k uses port+k-1 and port+100+k-1)"
            )
        self.install(report)
        for node in nodes:
            self.configure(node, count)
        self.layout_file.write_text(json.dumps({"nodes": count}))
        owner = node_process.engine_user()
        if owner is not None:
            node_process.chown_tree(self.root, *owner)
        report(f"starting {d.product} {self.version}: {count} node(s) from {self.url}")
        with ThreadPoolExecutor(max_workers=count) as pool:
            for future in [pool.submit(self._launch, n, owner) for n in nodes]:
                future.result()
        self._wait_green(nodes)
        if count == 1:
            # A single node can never allocate replicas: default new indices to 0 so they go green.
            node_process.put_json(f"{self.url}/_index_template/divrank-single-node", {
                "index_patterns": ["*"], "priority": 0,
                "template": {"settings": {"number_of_replicas": 0}},
            })
        final = self.status()
        report(f"{d.product} up at {final.url} ({final.health}, {final.cluster_nodes} node(s)); "
               f"plugins: {', '.join(final.plugins) or '-'}")
        return replace(final, started=True)

    def _wait_green(self, nodes: list[Node]) -> None:
        deadline = time.monotonic() + self.settings.engine_start_timeout_s
        while time.monotonic() < deadline:
            body = cluster_health(self.url)
            if body and body.get("status") == "green" and body.get("number_of_nodes") == len(nodes):
                return
            alive = [n for n in nodes if (rec := node_process.load_owner(n.owner_file))
                     and rec[0].alive()]
            if not alive:
                break
            time.sleep(1.0)
        log = nodes[0].logs / f"{self.dialect.cluster_name}.log"
        raise NodeError(
            f"{self.dialect.product} did not turn green with {len(nodes)} node(s) at {self.url} "
            f"within {self.settings.engine_start_timeout_s:.0f}s. Is a port taken "
            f"({self.dialect.port_env})? Log tail ({log}):\n{self._tail(log)}"
        )

    def down(self, report: Report = _quiet, timeout_s: float = 60.0) -> int:
        """Stop every node started from this root, each only after its (pid, start time)
        matches our record; a pid file naming anything else is refused (:class:`NotOurs`)."""
        with node_process.exclusive(self.lock_file):
            return self._down(report, timeout_s)

    def _down(self, report: Report = _quiet, timeout_s: float = 60.0) -> int:
        refused: list[str] = []
        targets: list[tuple[Node, Owned]] = []
        for node in self.known_nodes():
            try:
                owned = self.owned(node)
            except NotOurs as exc:
                refused.append(str(exc))
                continue
            if owned is not None:
                targets.append((node, owned))
        with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
            stopped = list(pool.map(lambda t: node_process.stop_owned(t[1], timeout_s), targets))
        for (node, owned), was in zip(targets, stopped, strict=True):
            node.owner_file.unlink(missing_ok=True)
            node.pid_file.unlink(missing_ok=True)
            if was:
                report(f"{self.dialect.product} {node.name} stopped (pid {owned.pid})")
        if refused:
            raise NotOurs("; ".join(refused))
        if not targets:
            report(f"{self.dialect.product} not running (nothing started from {self.root})")
        return sum(stopped)

    def clean(self) -> None:
        """Stop, then remove the unpacked server and every node's data (downloads stay)."""
        self.down()
        for node in self.known_nodes():
            for path in (node.data, node.logs) if node.number == 1 else (node.pid_file.parent,):
                shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)
        self.layout_file.unlink(missing_ok=True)


def _plugins(url: str) -> tuple[str, ...]:
    try:
        with urllib.request.urlopen(f"{url}/_cat/plugins?format=json", timeout=5) as resp:
            return tuple(sorted({row["component"] for row in json.load(resp)}))
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError):
        return ()

