"""Searches running while ``divrank index`` loads and swaps a new version never see an empty or
partial index: every answer holds exactly the old version's ids or exactly the new one's, and
once a searcher has seen the new version it never sees the old one again. Every searcher thread's
failure (a non-200, a short page, an exception) is recorded and asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from cli.main import app
from config.settings import REPO_ROOT
from indexer.alias_swap import list_versions

pytestmark = [pytest.mark.integration, pytest.mark.reliability]
runner = CliRunner()
OLD, NEW = 120, 170


@pytest.fixture()
def alias(engine: str) -> Iterator[str]:
    name = f"t-rel-{uuid.uuid4().hex[:8]}"
    yield name
    OpenSearch(engine).indices.delete(index=f"{name}-*", ignore_unavailable=True)


def _catalog(path: Path, n: int, seed: int) -> Path:
    """Rows with their own 8-d vectors: no embedding model, the run is only I/O."""
    rng = np.random.default_rng(seed)
    with path.open("w") as out:
        for i in range(n):
            vec = rng.normal(size=8)
            vec /= np.linalg.norm(vec)
            out.write(json.dumps({"sku": f"s{seed}-{i}", "name": f"toner cartridge {i}",
                                  "vec": [round(float(x), 6) for x in vec]}) + "\n")
    return path


def _index_args(path: Path, alias: str, engine: str) -> list[str]:
    return ["index", "--input", str(path), "--alias", alias, "--id-field", "sku",
            "--title-field", "name", "--embedding-field", "vec", "--no-embed", "--url", engine,
            "--no-progress", "--rejects", str(path.with_suffix(".rejects.jsonl"))]


def test_searches_during_a_swap_see_old_or_new_total(
    engine: str, alias: str, tmp_path: Path
) -> None:
    first = runner.invoke(app, _index_args(_catalog(tmp_path / "a.jsonl", OLD, 1), alias, engine))
    assert first.exit_code == 0, first.output
    client = OpenSearch(engine)
    assert client.count(index=alias)["count"] == OLD

    stop = threading.Event()
    old_ids = frozenset(f"s1-{i}" for i in range(OLD))
    new_ids = frozenset(f"s2-{i}" for i in range(NEW))
    seen: dict[int, list[int]] = {}  # per searcher: OLD or NEW for each answer, in order
    errors: list[str] = []

    def searcher(slot: int) -> None:
        versions = seen.setdefault(slot, [])
        body = {"size": 200, "track_total_hits": True, "query": {"match_all": {}},
                "_source": False}
        try:
            with httpx.Client(base_url=engine, timeout=30) as http:
                deadline = time.monotonic() + 60
                while not stop.is_set() and time.monotonic() < deadline:
                    resp = http.post(f"/{alias}/_search", json=body)
                    if resp.status_code != 200:
                        errors.append(f"searcher {slot}: {resp.status_code}: {resp.text[:300]}")
                        continue
                    ids = frozenset(hit["_id"] for hit in resp.json()["hits"]["hits"])
                    if ids == old_ids:
                        versions.append(OLD)
                    elif ids == new_ids:
                        versions.append(NEW)
                    else:
                        errors.append(f"searcher {slot}: {len(ids)} ids, neither version: "
                                      f"{sorted(ids ^ old_ids)[:3]} / {sorted(ids ^ new_ids)[:3]}")
                    time.sleep(0.005)
        except BaseException as exc:  # a thread's exception would otherwise be lost
            errors.append(f"searcher {slot} raised {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    # Small bulk requests, one at a time: the load lasts long enough to search through it.
    second = subprocess.run(
        [sys.executable, "-m", "cli.main",
         *_index_args(_catalog(tmp_path / "b.jsonl", NEW, 2), alias, engine),
         "--chunk-size", "5", "--threads", "1"],
        cwd=REPO_ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"), capture_output=True,
        text=True, timeout=120, check=False,
    )
    time.sleep(0.5)  # a few searches after the swap
    stop.set()
    for t in threads:
        t.join(30)

    assert second.returncode == 0, second.stderr[-2000:]
    assert not errors, errors[:5]
    assert client.count(index=alias)["count"] == NEW
    assert all(not t.is_alive() for t in threads), "a searcher did not stop"
    for slot, versions in seen.items():
        assert OLD in versions and NEW in versions, (slot, versions[:3], versions[-3:])
        switched = versions.index(NEW)
        assert all(v == NEW for v in versions[switched:]), f"searcher {slot} went back to old"
    assert sum(len(v) for v in seen.values()) >= 30
    versions = list_versions(client, alias)
    assert [v.complete for v in versions] == [True, True]
