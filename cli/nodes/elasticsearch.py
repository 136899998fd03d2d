"""A real Elasticsearch on this machine, fetched from Maven Central (no Docker).

Why Maven: ``org.elasticsearch.distribution.integ-test-zip:elasticsearch`` is the one
Elasticsearch server a package registry serves here (no bundled JDK; it runs on
``DIVRANK_JAVA_HOME``). The zip carries the server (``dense_vector`` + kNN search live in the
server itself) and the x-pack core and security modules only. Security is switched off: the
node listens on loopback only, like the OpenSearch dev node. The zip also leaves out the
``reindex`` module (no ``_reindex``), data streams and the root endpoint. The native
``diversify`` (MMR) retriever is in the server, but on 9.5.4 it returns no hits from an index
with ``index.mapping.exclude_source_vectors: false`` (ours, for the hook); see
:mod:`evaluation.es_diversify`.

Only what is Elasticsearch's own is here; start, stop, layout and process ownership are
shared with OpenSearch (:mod:`cli.nodes.local_node`). Everything lives under
``<engine_home>/elasticsearch`` (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

from cli.nodes.local_node import Dialect, EngineStatus, LocalCluster, Report
from config.settings import Settings

__all__ = ["ELASTICSEARCH", "clean", "down", "es_url", "install", "status", "up"]


def _quiet(_: str) -> None:
    return None


def _launcher_modes(_: Settings, home: Path, __: Report) -> None:
    """The zip ships the CLI launcher's jars unreadable for the unprivileged engine user."""
    launcher = home / "lib" / "cli-launcher"
    if launcher.is_dir():
        for jar in launcher.iterdir():
            jar.chmod(0o644)


ELASTICSEARCH = Dialect(
    product="Elasticsearch",
    name="elasticsearch",
    coordinate="org.elasticsearch.distribution.integ-test-zip:elasticsearch:{v}:zip",
    version_field="es_version",
    port_field="es_port",
    heap_field="es_heap",
    port_env="DIVRANK_ES_PORT",
    java_home_var="ES_JAVA_HOME",
    conf_var="ES_PATH_CONF",
    cluster_name="divrank-es-dev",
    node_prefix="divrank-es",
    manager_key="cluster.initial_master_nodes",
    # Loopback development node: no TLS, no users (the zip enables security by default).
    extra_config=("xpack.security.enabled: false",),
    subdir="elasticsearch",
    drop_env=("ES_JAVA_OPTS",),
    prepare=_launcher_modes,
)


def cluster(settings: Settings) -> LocalCluster:
    return LocalCluster(ELASTICSEARCH, settings)


def es_url(settings: Settings) -> str:
    return cluster(settings).url


def install(settings: Settings, report: Report = _quiet) -> Path:
    """Fetch and unpack the server; idempotent."""
    return cluster(settings).install(report)


def status(settings: Settings) -> EngineStatus:
    return cluster(settings).status()


def up(settings: Settings, report: Report = _quiet, nodes: int = 1) -> EngineStatus:
    """Install if needed, start, wait for green. A running node is left as is."""
    return cluster(settings).up(nodes, report)


def down(settings: Settings, report: Report = _quiet, timeout_s: float = 60.0) -> bool:
    """Stop the node(s) started by :func:`up`. Returns whether one was running."""
    return cluster(settings).down(report, timeout_s) > 0


def clean(settings: Settings) -> None:
    """Remove the unpacked server and its data (the download stays cached)."""
    cluster(settings).clean()
