"""A second engine from the same checkout: ``DIVRANK_ENGINE_HOME`` and ``DIVRANK_ENGINE_PORT``
give it its own files and ports, so it can be killed without touching the shared one
(tests/reliability/test_engine_restart_reindex.py relies on this)."""

from __future__ import annotations

from pathlib import Path

import yaml

from cli.nodes import opensearch as engine
from config.settings import Settings


def _settings(home: Path, port: int) -> Settings:
    return Settings(engine_home=home, engine_port=port, engine_heap="512m")


def _files(settings: Settings) -> set[Path]:
    with engine._exclusive(settings):
        pass
    return {
        engine._home(settings),
        engine._pid_file(settings),
        engine._log_file(settings),
        settings.engine_home / "engine.lock",
    }


def test_two_homes_share_no_file(tmp_path: Path) -> None:
    shared, own = _settings(tmp_path / "a", 9200), _settings(tmp_path / "b", 9250)
    assert not _files(shared) & _files(own)
    for settings in (shared, own):
        assert all(p.is_relative_to(settings.engine_home) for p in _files(settings))
        assert (settings.engine_home / "engine.lock").exists()


def test_config_points_data_logs_and_ports_at_its_own_home(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "own", 9250)
    home = engine._home(settings)
    (home / "config").mkdir(parents=True)
    engine._configure(settings, home)
    cfg = yaml.safe_load((home / "config" / "opensearch.yml").read_text())
    assert cfg["http.port"] == 9250 and cfg["transport.port"] == 9350
    assert cfg["path.data"] == str(settings.engine_home / "data")
    assert cfg["path.logs"] == str(settings.engine_home / "logs")
    heap = (home / "config" / "jvm.options.d" / "divrank-heap.options").read_text().split()
    assert heap == ["-Xms512m", "-Xmx512m"]
    assert engine.engine_url(settings) == "http://127.0.0.1:9250"
    assert engine.status(settings).pid is None  # no pid file in a fresh home
