"""Pure parts of the demo: the events it writes, the terminal columns, the sidecar pid file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cli.demo import format_comparison, write_events
from cli.nodes import sidecar as sidecar_process
from config.settings import Settings
from indexer.events import read_events
from indexer.rejects import RejectLog
from reranker.app.demo_search import DEMO_USERS, Comparison, DemoHit


def _hit(i: int, brand: str, category: str) -> DemoHit:
    return DemoHit(id=f"i{i}", title=f"Product number {i} with a rather long title indeed",
                   brand=brand, category=category, price=9.5, score=10.0 - i)


def test_events_are_valid_for_the_indexer_reader(tmp_path: Path) -> None:
    histories = {"demo-a": [_hit(i, "HP", "Printing/Supplies/Ink") for i in range(7)],
                 "demo-b": [_hit(10, "MSI", "Computers/Laptops/Notebook")]}
    path = tmp_path / "events.jsonl"
    lines = write_events(histories, path)
    rejects = RejectLog(None)
    events = list(read_events(path, rejects))
    assert len(events) == lines and rejects.rejected == 0
    assert {e.user_id for e in events} == {"demo-a", "demo-b"}
    assert {e.item_id for e in events if e.user_id == "demo-a"} == {f"i{i}" for i in range(7)}
    kinds = [e.type for e in events if e.user_id == "demo-a"]
    assert kinds.count("view") == 7 and kinds.count("purchase") == 3
    # Same input, same file: the demo profiles do not change between runs.
    first = path.read_text()
    write_events(histories, path)
    assert path.read_text() == first
    assert json.loads(first.splitlines()[0])["ts"].endswith("Z")


def test_columns_align_and_count_brands_and_categories() -> None:
    engine = [_hit(i, "C2G", "Cables/Network/Patch cable") for i in range(4)]
    divrank = [engine[0], _hit(7, "StarTech.com", "Cables/USB/USB cable & hub"), engine[1],
               _hit(8, "APC", "Power/UPS/UPS")]
    comparison = Comparison("cable", "demo-gamer", 0.8, engine, divrank, applied=True,
                            degraded=False, reason=None, strategy="fusion")
    lines = format_comparison(comparison, "Gamer", width=120)
    assert lines[0].startswith("query 'cable' · user Gamer · diversity 0.80 · divrank applied")
    rows = lines[4:8]
    assert all(len(row) <= 120 for row in lines)
    assert len({row.index(" | ") for row in rows}) == 1  # one separator column
    assert "StarTech.com" in rows[1] and "USB cable & hub" in rows[1]
    assert "1 brand: C2G×4" in lines[9] and "3 brands: " in lines[9]
    assert "1 category: Patch cable×4" in lines[10] and "3 categories" in lines[10]
    assert lines[-1] == "3 of 4 positions differ; 2 items not on the engine page"


def test_degraded_pages_say_so() -> None:
    hits = [_hit(0, "HP", "Printing/Supplies/Ink")]
    comparison = Comparison("ink", None, 0.5, hits, hits, applied=False, degraded=True,
                            reason="sidecar_unreachable", strategy=None)
    assert "DEGRADED (sidecar_unreachable)" in format_comparison(comparison, "anonymous", 100)[0]


def test_demo_users_have_distinct_ids_and_picks() -> None:
    assert len({u.id for u in DEMO_USERS}) == len(DEMO_USERS) >= 3
    assert all(u.picks and all(n >= 1 for _, n in u.picks) for u in DEMO_USERS)


def test_stale_pid_file_is_removed(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path, port=9)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    sidecar_process.pid_path(settings).write_text(json.dumps({"pid": dead.pid, "url": "x"}))
    state = sidecar_process.status(settings)
    assert state.pid is None and not state.answering
    assert not sidecar_process.pid_path(settings).exists()
    assert sidecar_process.stop(settings) is False


def test_a_live_process_that_is_not_our_sidecar_is_never_signalled(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path, port=9)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sidecar_process.pid_path(settings).write_text(json.dumps({"pid": other.pid, "url": "x"}))
        assert sidecar_process.stop(settings) is False
        assert other.poll() is None  # still running
        assert not sidecar_process.pid_path(settings).exists()
    finally:
        other.kill()
        other.wait()
    assert os.getpid() != other.pid
