"""A second engine from the same checkout: ``DIVRANK_ENGINE_HOME`` and ``DIVRANK_ENGINE_PORT``
give it its own files and ports, so it can be killed without touching the shared one
(tests/reliability/test_engine_restart_reindex.py and tests/integration/test_multinode.py rely
on this). Both dialects share one layout; only their config keys differ."""

from __future__ import annotations

from pathlib import Path

import yaml

from cli.nodes import elasticsearch as es_engine
from cli.nodes import opensearch as engine
from cli.nodes import process as node_process
from cli.nodes.local_node import LocalCluster
from config.settings import Settings


def _settings(home: Path, port: int) -> Settings:
    return Settings(engine_home=home, engine_port=port, engine_heap="512m")


def _files(local: LocalCluster, count: int = 3) -> set[Path]:
    with node_process.exclusive(local.lock_file):
        pass
    files = {local.home, local.setup_log, local.lock_file, local.layout_file}
    for node in local.nodes(count):
        files |= {node.pid_file, node.owner_file, node.data, node.logs, node.conf}
    return files


def test_two_homes_share_no_file(tmp_path: Path) -> None:
    shared = engine.cluster(_settings(tmp_path / "a", 9200))
    own = engine.cluster(_settings(tmp_path / "b", 9250))
    assert not _files(shared) & _files(own)
    for local in (shared, own):
        assert all(p.is_relative_to(local.root) for p in _files(local))
        assert local.lock_file.exists()


def test_nodes_of_one_cluster_share_no_port_or_folder(tmp_path: Path) -> None:
    local = engine.cluster(_settings(tmp_path / "c", 9600))
    nodes = local.nodes(3)
    ports = [p for n in nodes for p in (n.http_port, n.transport_port)]
    assert ports == [9600, 9700, 9601, 9701, 9602, 9702]
    for field in ("conf", "data", "logs", "pid_file"):
        assert len({getattr(n, field) for n in nodes}) == 3, field


def _config(local: LocalCluster, number: int, count: int) -> dict[str, object]:
    node = local.node(number)
    (local.home / "config").mkdir(parents=True, exist_ok=True)
    local.configure(node, count)
    return dict(yaml.safe_load((node.conf / f"{local.dialect.name}.yml").read_text()))


def test_single_node_config_points_data_logs_and_ports_at_its_own_home(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "own", 9250)
    local = engine.cluster(settings)
    cfg = _config(local, 1, 1)
    assert cfg["http.port"] == 9250 and cfg["transport.port"] == 9350
    assert cfg["path.data"] == str(settings.engine_home / "data")
    assert cfg["path.logs"] == str(settings.engine_home / "logs")
    assert cfg["discovery.type"] == "single-node"
    heap = (local.home / "config" / "jvm.options.d" / "divrank-heap.options").read_text().split()
    assert heap == ["-Xms512m", "-Xmx512m"]
    assert engine.engine_url(settings) == "http://127.0.0.1:9250"
    assert engine.status(settings).pid is None  # no pid file in a fresh home


def test_cluster_config_seeds_every_node_in_each_dialect(tmp_path: Path) -> None:
    settings = Settings(engine_home=tmp_path / "h", engine_port=9600, es_port=9650)
    for local, key in ((engine.cluster(settings), "cluster.initial_cluster_manager_nodes"),
                       (es_engine.cluster(settings), "cluster.initial_master_nodes")):
        cfg = _config(local, 2, 3)
        base = local.port
        assert cfg["http.port"] == base + 1 and cfg["transport.port"] == base + 101
        assert "discovery.type" not in cfg
        assert cfg["discovery.seed_hosts"] == [f"127.0.0.1:{base + 100 + k}" for k in range(3)]
        assert cfg[key] == [f"{local.dialect.node_prefix}-{k}" for k in (1, 2, 3)]
        assert cfg["path.data"] == str(local.root / "node-2" / "data")
        # the second node reads its own copy of the config directory
        assert local.node(2).conf == local.root / "node-2" / "config"
