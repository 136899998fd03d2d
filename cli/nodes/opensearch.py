"""A real OpenSearch on this machine (one node or a local cluster), fetched from Maven Central.

Why Maven: it is the one registry that serves the OpenSearch server (the integ-test zip, no
bundled JDK) and the k-NN plugin zip, and ``mvn dependency:copy`` caches both in the local
Maven repository, so a second ``up`` on the same machine downloads nothing. The k-NN zip has
no native faiss/nmslib libraries: vector fields use the lucene engine (HNSW).

What is OpenSearch's own is here (coordinates, config keys, the k-NN and divrank plugins);
start, stop, layout and process ownership are shared with Elasticsearch
(:mod:`cli.nodes.local_node`). Everything lives under ``Settings.engine_home`` (git-ignored).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cli.nodes.local_node import Dialect, EngineStatus, LocalCluster, Report, cluster_health
from cli.nodes.process import NodeError
from config.settings import REPO_ROOT, Settings

__all__ = [
    "OPENSEARCH",
    "EngineError",
    "EngineStatus",
    "clean",
    "cluster",
    "down",
    "engine_url",
    "health",
    "install",
    "status",
    "up",
]

KNN_PLUGIN = "opensearch-knn"
DIVRANK_PLUGIN = "divrank"
PLUGIN_DIR = REPO_ROOT / "plugin"

# One error type for both engines.
EngineError = NodeError


def _quiet(_: str) -> None:
    return None


def health(url: str, timeout: float = 2.0) -> str | None:
    """Cluster health colour, or None when nothing answers at ``url``."""
    body = cluster_health(url, timeout)
    return str(body["status"]) if body and "status" in body else None


def _installed_plugins(home: Path) -> set[str]:
    plugins = home / "plugins"
    return {p.name for p in plugins.iterdir()} if plugins.exists() else set()


def _install_plugins(settings: Settings, home: Path, report: Report, reinstall: bool) -> None:
    """k-NN from Maven; ours built against the engine version (reinstalled when it changed)."""
    local = cluster(settings)
    tool = str(home / "bin" / "opensearch-plugin")
    if KNN_PLUGIN not in _installed_plugins(home):
        v = local.version
        knn = local.fetch(f"org.opensearch.plugin:opensearch-knn:{v}.0:zip",
                          local.root / "downloads" / f"opensearch-knn-{v}.0.zip", report)
        report("installing the k-NN plugin")
        local.run([tool, "install", "--batch", knn.as_uri()])
    report("building the divrank plugin (mvn package)")
    local.run(["mvn", "-B", "-q", "package", "-DskipTests"], cwd=PLUGIN_DIR)
    zips = sorted((PLUGIN_DIR / "target" / "releases").glob("divrank*.zip"))
    if not zips:
        raise EngineError(f"mvn package produced no plugin zip under {PLUGIN_DIR}/target/releases")
    ours = zips[-1]
    marker = local.root / "divrank-plugin.sha256"
    digest = hashlib.sha256(ours.read_bytes()).hexdigest()
    stale = not marker.exists() or marker.read_text().strip() != digest
    if DIVRANK_PLUGIN in _installed_plugins(home) and (stale or reinstall):
        report("removing the previous divrank plugin")
        local.run([tool, "remove", DIVRANK_PLUGIN])
    if DIVRANK_PLUGIN not in _installed_plugins(home):
        report(f"installing {ours.name}")
        local.run([tool, "install", "--batch", ours.as_uri()])
        marker.write_text(digest)


def _dialect(reinstall_plugin: bool = False) -> Dialect:
    return Dialect(
        product="OpenSearch",
        name="opensearch",
        coordinate="org.opensearch.distribution.integ-test-zip:opensearch:{v}:zip",
        version_field="engine_version",
        port_field="engine_port",
        heap_field="engine_heap",
        port_env="DIVRANK_ENGINE_PORT",
        java_home_var="OPENSEARCH_JAVA_HOME",
        conf_var="OPENSEARCH_PATH_CONF",
        cluster_name="divrank-dev",
        node_prefix="divrank-node",
        manager_key="cluster.initial_cluster_manager_nodes",
        # OpenSearch's native MMR (a baseline we compare against) needs these factories.
        extra_config=(
            "cluster.search.enabled_system_generated_factories: "
            "[mmr_over_sample_factory, mmr_rerank_factory]",
        ),
        drop_env=("OPENSEARCH_JAVA_OPTS",),
        prepare=lambda s, home, report: _install_plugins(s, home, report, reinstall_plugin),
    )


OPENSEARCH = _dialect()


def cluster(settings: Settings, reinstall_plugin: bool = False) -> LocalCluster:
    return LocalCluster(_dialect(reinstall_plugin) if reinstall_plugin else OPENSEARCH, settings)


def engine_url(settings: Settings) -> str:
    return cluster(settings).url


def install(settings: Settings, report: Report = _quiet, reinstall_plugin: bool = False) -> Path:
    """Unpack the server, install k-NN and our plugin; idempotent."""
    return cluster(settings, reinstall_plugin).install(report)


def status(settings: Settings) -> EngineStatus:
    return cluster(settings).status()


def up(
    settings: Settings,
    report: Report = _quiet,
    reinstall_plugin: bool = False,
    nodes: int = 1,
) -> EngineStatus:
    """Install if needed, start ``nodes`` nodes, wait for green. A running engine is left as
    is (``reinstall_plugin``: rebuilt, reinstalled and restarted)."""
    return cluster(settings, reinstall_plugin).up(nodes, report, restart=reinstall_plugin)


def down(settings: Settings, report: Report = _quiet, timeout_s: float = 60.0) -> bool:
    """Stop every node this home started. Returns whether one was running."""
    return cluster(settings).down(report, timeout_s) > 0


def clean(settings: Settings) -> None:
    """Remove the unpacked server and its data (downloads stay cached)."""
    cluster(settings).clean()
