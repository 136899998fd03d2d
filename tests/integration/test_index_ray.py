"""`divrank index --ray-address` embeds on a real local Ray cluster (started here on
127.0.0.1, in a process group of this test's own, and stopped at the end) and gives the index a
local run gives: the same ids, every vector at cosine >= 0.9999 to the local one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch

from cli.nodes import process as node_process
from cli.nodes.local_node import listening
from cli.nodes.sidecar import free_port
from config.settings import REPO_ROOT
from config.vector_fetch import hit_vector, search_by_ids

pytestmark = [pytest.mark.integration, pytest.mark.distributed]

ROWS = 120


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    port = free_port()
    temp = tempfile.mkdtemp(prefix="divrank-ray-")
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0")
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
         f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
         "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    leader = node_process.identify(head.pid)
    assert leader is not None
    try:
        deadline = time.monotonic() + 120
        while not listening(port) and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert listening(port), f"Ray head did not listen on {port} (exit {head.poll()})"
        yield f"127.0.0.1:{port}"
    finally:
        node_process.stop_owned(leader, timeout_s=30, group=True)
        head.wait(timeout=10)
        # Ray workers make process groups of their own but stay in the session we created.
        for owned in node_process.session_members(leader):
            node_process.stop_owned(owned, timeout_s=10)
        assert not node_process.session_members(leader), "a Ray process of this test survived"
        shutil.rmtree(temp, ignore_errors=True)


def _catalog(path: Path) -> Path:
    words = ["toner", "laptop", "desk lamp", "usb cable", "monitor", "office chair"]
    with path.open("w") as out:
        for i in range(ROWS):
            out.write(json.dumps({
                "sku": f"r{i}", "name": f"{words[i % 6]} model {i}",
                "desc": f"{words[(i * 7) % 6]} with {i % 13} extras",
            }) + "\n")
    return path


def _index(path: Path, alias: str, url: str, *extra: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "index", "--input", str(path), "--alias", alias,
         "--id-field", "sku", "--title-field", "name", "--description-field", "desc",
         "--precision", "fp32", "--no-cache", "--no-progress", "--json", "--url", url,
         "--rejects", str(path.with_suffix(f".{alias}.rejects.jsonl")), *extra],
        cwd=REPO_ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"), capture_output=True,
        text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, object] = json.loads(done.stdout)
    return report


def _vectors(client: OpenSearch, alias: str) -> dict[str, np.ndarray]:
    ids = [f"r{i}" for i in range(ROWS)]
    out = {}
    for hit in search_by_ids(client, alias, ids):
        vec = hit_vector(hit, "embedding")
        assert vec is not None, hit["_id"]
        out[hit["_id"]] = vec
    return out


def test_ray_embedding_equals_a_local_run(
    engine: str, ray_address: str, tmp_path: Path
) -> None:
    client = OpenSearch(engine, timeout=60)
    prefix = f"t-ray-{uuid.uuid4().hex[:6]}"
    local_alias, ray_alias = f"{prefix}-local", f"{prefix}-ray"
    path = _catalog(tmp_path / "catalog.jsonl")
    try:
        local = _index(path, local_alias, engine)
        remote = _index(path, ray_alias, engine, "--ray-address", ray_address,
                        "--ray-workers", "2")
        assert local["embedded"] == remote["embedded"] == ROWS
        mine, theirs = _vectors(client, local_alias), _vectors(client, ray_alias)
        assert set(mine) == set(theirs) == {f"r{i}" for i in range(ROWS)}
        cosines = [
            float(mine[k] @ theirs[k] / (np.linalg.norm(mine[k]) * np.linalg.norm(theirs[k])))
            for k in mine
        ]
        assert min(cosines) >= 0.9999, min(cosines)
    finally:
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)


def test_a_wrong_ray_address_is_one_clear_error(engine: str, tmp_path: Path) -> None:
    closed = free_port()
    path = _catalog(tmp_path / "catalog.jsonl")
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "index", "--input", str(path), "--alias",
         f"t-ray-bad-{uuid.uuid4().hex[:6]}", "--id-field", "sku", "--title-field", "name",
         "--no-progress", "--url", engine, "--ray-address", f"127.0.0.1:{closed}"],
        cwd=REPO_ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"),
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"no Ray cluster at 127.0.0.1:{closed}" in done.stderr, done.stderr[-2000:]

