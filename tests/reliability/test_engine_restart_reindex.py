"""The engine dies in the middle of a reindex: the alias keeps serving the previous complete
version with exactly its documents, the interrupted run fails with one clear line, and the next
run publishes the new version and removes the half-written one.

The engine here is our own second OpenSearch (``cli.nodes.opensearch`` with its own home, ports
and a small heap), started for this module and always stopped at the end; the shared engine on the
default port is never touched, and nothing is sent to it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch

from cli.nodes import opensearch as engine_ctl
from config.settings import REPO_ROOT, Settings, get_settings
from indexer.alias_swap import list_versions

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

OLD, NEW = 300, 4000
OVERLAP = 100  # the new catalog keeps the last 100 old ids: updated, not duplicated
KILL_AFTER = 100  # documents in the new version before the engine is stopped


def _ports_free(port: int) -> bool:
    for candidate in (port, port + 100):  # HTTP and transport (engine.py: transport = +100)
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                return False
    return True


def _free_engine_port(shared: int) -> int:
    for port in range(9250, 9300):
        if port != shared and _ports_free(port):
            return port
    raise RuntimeError("no free HTTP/transport port pair in 9250-9299 for the test engine")


@dataclass
class OwnEngine:
    """A second OpenSearch this module may kill and restart."""

    settings: Settings

    @property
    def url(self) -> str:
        return engine_ctl.engine_url(self.settings)

    def java_pids(self) -> list[int]:
        """JVMs running from this engine's home (found by path, so only ours)."""
        marker = f"{self.settings.engine_home}/".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"/java") and any(marker in arg for arg in argv):
                pids.append(int(entry.name))
        return pids

    def kill(self) -> None:
        """SIGKILL the JVM and wait until it is gone (bounded: 30 s)."""
        pids = self.java_pids()
        assert pids, "the test engine is not running"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.java_pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not self.java_pids(), "the test engine survived SIGKILL for 30 s"

    def start(self) -> None:
        engine_ctl.up(self.settings)  # bounded by settings.engine_start_timeout_s

    def stop(self) -> None:
        engine_ctl.down(self.settings, timeout_s=30)
        for pid in self.java_pids():  # e.g. a JVM that died before writing its pid file
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def own_engine() -> Iterator[OwnEngine]:
    shared = get_settings()
    # Under the engine home (git-ignored) so the unprivileged engine user can reach it; the
    # unpacked server is kept between runs (a restart is ~15 s), the data is not.
    home = shared.engine_home / "restart-test"
    settings = shared.model_copy(update={
        "engine_home": home,
        "engine_port": _free_engine_port(shared.engine_port),
        "engine_heap": "512m",
        "engine_start_timeout_s": 120.0,
    })
    own = OwnEngine(settings)
    own.stop()  # a JVM left over from an aborted earlier run
    for stale in ("data", "logs"):
        shutil.rmtree(home / stale, ignore_errors=True)
    try:
        own.start()
        yield own
    finally:
        own.stop()


def _catalog(path: Path, ids: range, seed: int) -> Path:
    """Rows with their own 8-d vectors: no embedding model, the run is only I/O."""
    rng = np.random.default_rng(seed)
    with path.open("w") as out:
        for i in ids:
            vec = rng.normal(size=8)
            vec /= np.linalg.norm(vec)
            out.write(json.dumps({"sku": f"p{i}", "name": f"toner cartridge {i} v{seed}",
                                  "vec": [round(float(x), 6) for x in vec]}) + "\n")
    return path


def _index(path: Path, alias: str, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *_index_args(path, alias, url), *extra],
        cwd=REPO_ROOT, env=_env(url), capture_output=True, text=True, timeout=180, check=False,
    )


def _index_args(path: Path, alias: str, url: str) -> list[str]:
    return ["index", "--input", str(path), "--alias", alias, "--id-field", "sku",
            "--title-field", "name", "--embedding-field", "vec", "--no-embed", "--url", url,
            "--no-progress", "--rejects", str(path.with_suffix(".rejects.jsonl"))]


def _env(url: str) -> dict[str, str]:
    return dict(os.environ, DIVRANK_OPENSEARCH_URL=url, HF_HUB_OFFLINE="1")


def _served_ids(client: OpenSearch, alias: str) -> list[str]:
    resp = client.search(index=alias, body={
        "size": 10_000, "track_total_hits": True, "query": {"match_all": {}}, "_source": False,
    })
    assert int(resp["hits"]["total"]["value"]) == len(resp["hits"]["hits"])
    return [hit["_id"] for hit in resp["hits"]["hits"]]


def _indexed(client: OpenSearch, index: str) -> int:
    stats = client.indices.stats(index=index, metric="indexing")
    return int(stats["_all"]["primaries"]["indexing"]["index_total"])


def _assert_serves(client: OpenSearch, alias: str, index: str, ids: set[str]) -> None:
    """``alias`` points at ``index`` alone and answers with exactly ``ids``, once each."""
    assert list(client.indices.get_alias(name=alias)) == [index]
    served = _served_ids(client, alias)
    assert len(served) == len(set(served)), "a document is served twice"
    assert set(served) == ids, (
        f"lost {len(ids - set(served))}, unexpected {len(set(served) - ids)}"
    )
    assert client.count(index=alias)["count"] == len(ids)


@pytest.mark.parametrize("stop", ["sigkill", "clean_stop"])
def test_engine_restart_mid_reindex_keeps_the_old_version_then_recovers(
    own_engine: OwnEngine, tmp_path: Path, stop: str
) -> None:
    url = own_engine.url
    client = OpenSearch(url, timeout=30)
    alias = f"t-rel-{uuid.uuid4().hex[:8]}"
    old_ids = range(OLD)
    new_ids = range(OLD - OVERLAP, OLD - OVERLAP + NEW)

    first = _index(_catalog(tmp_path / "v1.jsonl", old_ids, 1), alias, url, "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    v1 = json.loads(first.stdout)["index"]
    _assert_serves(client, alias, v1, {f"p{i}" for i in old_ids})

    # Small bulk requests, one in flight: the load lasts long enough to be caught mid-way.
    v2_file = _catalog(tmp_path / "v2.jsonl", new_ids, 2)
    threads = "1" if stop == "sigkill" else "2"  # streaming_bulk, and parallel_bulk
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *_index_args(v2_file, alias, url),
         "--chunk-size", "5", "--threads", threads],
        cwd=REPO_ROOT, env=_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        victim = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            fresh = [v for v in list_versions(client, alias) if not v.complete]
            if fresh and _indexed(client, fresh[0].name) >= KILL_AFTER:
                victim = fresh[0].name
                break
            time.sleep(0.1)
        assert victim is not None, "the second load finished or never started bulk writing"
        if stop == "sigkill":
            own_engine.kill()
        else:
            engine_ctl.down(own_engine.settings, timeout_s=60)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)

    # The interrupted run fails on its own, with one clear line and no traceback.
    assert proc.returncode == 1, (proc.returncode, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err[-3000:]
    port = str(own_engine.settings.engine_port)
    assert "connection to OpenSearch" in errors[0] and port in errors[0], errors[0]
    assert len(err.splitlines()) <= 5, err[-3000:]

    own_engine.start()
    client = OpenSearch(url, timeout=30)
    # The alias never moved: exactly the old documents, from the old version alone.
    _assert_serves(client, alias, v1, {f"p{i}" for i in old_ids})
    leftovers = {v.name: v for v in list_versions(client, alias)}
    assert v1 in leftovers and leftovers[v1].complete
    # The failed run could not delete its half-written version while the engine was down.
    assert not leftovers[victim].complete and not leftovers[victim].serving
    assert client.count(index=victim)["count"] < NEW

    # The next run publishes the new catalog and removes the orphan.
    again = _index(v2_file, alias, url, "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    report = json.loads(again.stdout)
    assert report["previous"] == v1 and report["accepted"] == NEW
    _assert_serves(client, alias, report["index"], {f"p{i}" for i in new_ids})
    assert report["orphans_removed"] == [victim]
    names = [v.name for v in list_versions(client, alias)]
    assert names == [v1, report["index"]], names
    assert all(v.complete for v in list_versions(client, alias))
    client.indices.delete(index=f"{alias}-*")
