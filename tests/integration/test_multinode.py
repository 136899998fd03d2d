"""A real 3-node OpenSearch cluster on loopback: `divrank engine up --nodes 3`, a catalog in
3 shards with 1 replica, the divrank pipeline and a real sidecar.

- the pipeline's page on the 3-shard index equals the page on a 1-shard index of the same
  catalog (scores do not depend on shard statistics here, so the candidates are the same);
- a reindex on the cluster swaps the alias cleanly (new ids only, the old version kept);
- one node SIGKILLed: every search still answers and is still re-ranked, and the alias still
  serves every document.

The cluster is this module's own (its home under ``.engine/multinode``, ports away from the
shared engine's 9200 and the restart test's 9250-9299); it is stopped by `divrank engine down`
at the end of the module. The shared engine is never contacted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opensearchpy import OpenSearch

from cli import pipeline
from cli.nodes import opensearch as engine_ctl
from cli.nodes import process as node_process
from cli.nodes.local_node import bindable
from config.settings import REPO_ROOT, Settings, get_settings

pytestmark = [pytest.mark.integration, pytest.mark.multinode]

NODES, SHARDS, REPLICAS = 3, 3, 1
DIM, N_DOCS = 16, 300
QUERY = {
    "function_score": {
        "query": {"match": {"title": "toner"}},
        # distinct prices give distinct scores that no shard statistic changes
        "field_value_factor": {"field": "price"},
        "boost_mode": "replace",
    }
}


def _free_base() -> int:
    """HTTP ports base..base+2 and transport base+100..base+102 all free, away from 92xx."""
    for base in range(9600, 9700, 10):
        if all(bindable(p) for k in range(NODES) for p in (base + k, base + 100 + k)):
            return base
    raise RuntimeError("no free port block in 9600-9699 (+100) for the test cluster")


@dataclass
class Cluster:
    settings: Settings
    env: dict[str, str]

    @property
    def url(self) -> str:
        return engine_ctl.engine_url(self.settings)

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args], cwd=REPO_ROOT, env=self.env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )

    def owned(self) -> list[node_process.Owned]:
        local = engine_ctl.cluster(self.settings)
        return [o for n in local.known_nodes() if (o := local.owned(n)) is not None]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    base = _free_base()
    settings = get_settings().model_copy(update={
        "engine_home": REPO_ROOT / ".engine" / "multinode",
        "engine_port": base,
        "engine_heap": "512m",
        "engine_start_timeout_s": 300.0,
        "opensearch_url": f"http://127.0.0.1:{base}",
    })
    env = dict(
        os.environ, HF_HUB_OFFLINE="1",
        DIVRANK_ENGINE_HOME=str(settings.engine_home), DIVRANK_ENGINE_PORT=str(base),
        DIVRANK_ENGINE_HEAP="512m", DIVRANK_ENGINE_START_TIMEOUT_S="300",
        DIVRANK_OPENSEARCH_URL=settings.opensearch_url,
    )
    own = Cluster(settings, env)
    engine_ctl.down(settings)  # nodes left by an aborted run (ours by pid + start time only)
    local = engine_ctl.cluster(settings)
    for node in local.known_nodes():  # fresh data: a cluster state from another run
        shutil.rmtree(node.data, ignore_errors=True)
    up = own.cli("engine", "up", "--nodes", str(NODES), timeout=900)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        yield own
    finally:
        started = own.owned()
        down = own.cli("engine", "down", timeout=180)
        assert down.returncode == 0, down.stderr[-2000:]
        assert not [o for o in started if o.alive()], "a node survived `engine down`"


@pytest.fixture(scope="module")
def client(cluster: Cluster) -> OpenSearch:
    return OpenSearch(cluster.url, timeout=60)


@pytest.fixture(scope="module")
def sidecar_url(cluster: Cluster, start_sidecar: Callable[..., Any]) -> Iterator[str]:
    side = start_sidecar(cluster.url)
    yield side.url
    side.stop()


def _catalog(path: Path, ids: range, seed: int) -> Path:
    """Near-duplicate clusters (so diversity changes the page), distinct prices, own vectors."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(6, DIM))
    with path.open("w") as out:
        for i in ids:
            vec = centers[i % 6] + 0.05 * rng.normal(size=DIM)
            vec /= np.linalg.norm(vec)
            out.write(json.dumps({
                "sku": f"p{i}", "name": f"toner cartridge {i}", "cat": f"printing/toner/c{i % 6}",
                "brand": f"brand{i % 5}", "price": 10.0 + i,
                "vec": [round(float(x), 6) for x in vec],
            }) + "\n")
    return path


def _index(cluster: Cluster, path: Path, alias: str, shards: int, replicas: int) -> str:
    done = cluster.cli(
        "index", "--input", str(path), "--alias", alias, "--id-field", "sku",
        "--title-field", "name", "--category-field", "cat", "--brand-field", "brand",
        "--price-field", "price", "--embedding-field", "vec", "--no-embed", "--no-progress",
        "--shards", str(shards), "--replicas", str(replicas), "--url", cluster.url, "--json",
        "--rejects", str(path.with_suffix(f".{alias}.rejects.jsonl")),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return str(json.loads(done.stdout)["index"])


@dataclass(frozen=True)
class Setup:
    sharded: str  # alias over 3 shards x (1 + 1 replica)
    single: str  # alias over 1 shard, same catalog
    pipe: str
    ids: frozenset[str]
    workdir: Path


@pytest.fixture(scope="module")
def setup(
    cluster: Cluster, client: OpenSearch, sidecar_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("multinode")
    prefix = f"t-mn-{uuid.uuid4().hex[:6]}"
    cat = _catalog(work / "v1.jsonl", range(N_DOCS), 1)
    sharded, single = f"{prefix}-sharded", f"{prefix}-single"
    index = _index(cluster, cat, sharded, SHARDS, REPLICAS)
    _index(cluster, cat, single, 1, 0)
    name = f"{prefix}-pipe"
    pipeline.install(client, pipeline.PipelineConfig(
        name=name, sidecar_url=sidecar_url, connect_timeout_ms=1000, read_timeout_ms=10000,
    ))
    settings = client.indices.get_settings(index=index)[index]["settings"]["index"]
    assert (int(settings["number_of_shards"]), int(settings["number_of_replicas"])) == (3, 1)
    yield Setup(sharded, single, name, frozenset(f"p{i}" for i in range(N_DOCS)), work)
    pipeline.delete(client, name)


def _search(client: OpenSearch, alias: str, pipe: str, diversity: float) -> dict[str, Any]:
    body = {"size": 10, "query": QUERY, "ext": {"divrank": {"diversity": diversity}}}
    resp: dict[str, Any] = client.transport.perform_request(
        "POST", f"/{alias}/_search", params={"search_pipeline": pipe}, body=body
    )
    return resp


def _page(resp: dict[str, Any]) -> list[str]:
    return [hit["_id"] for hit in resp["hits"]["hits"]]


def _served(client: OpenSearch, alias: str) -> set[str]:
    resp = client.search(index=alias, body={
        "size": 10_000, "query": {"match_all": {}}, "_source": False, "track_total_hits": True,
    })
    ids = [hit["_id"] for hit in resp["hits"]["hits"]]
    assert len(ids) == len(set(ids)) == int(resp["hits"]["total"]["value"])
    return set(ids)


def test_status_lists_every_node(cluster: Cluster) -> None:
    out = cluster.cli("engine", "status", timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"nodes={NODES}" in out.stdout and "health=green" in out.stdout, out.stdout
    lines = [line for line in out.stdout.splitlines() if line.startswith("  divrank-node-")]
    assert len(lines) == NODES and all("pid=-" not in line for line in lines), out.stdout


def test_three_shards_give_the_one_shard_page(client: OpenSearch, setup: Setup) -> None:
    for diversity in (0.0, 0.5, 0.9):
        sharded = _search(client, setup.sharded, setup.pipe, diversity)
        single = _search(client, setup.single, setup.pipe, diversity)
        for resp in (sharded, single):
            ext = resp["ext"]["divrank"]
            assert ext["applied"] is True and ext["degraded"] is False, ext
        assert _page(sharded) == _page(single), diversity
    # and the pipeline does change the engine's order (it is not a pass-through)
    plain = client.search(index=setup.sharded, body={"size": 10, "query": QUERY})
    assert _page(plain) != _page(_search(client, setup.sharded, setup.pipe, 0.9))


def test_reindex_on_the_cluster_swaps_cleanly(client: OpenSearch, setup: Setup,
                                              cluster: Cluster) -> None:
    before = next(iter(client.indices.get_alias(name=setup.sharded)))
    new_ids = range(N_DOCS // 2, N_DOCS // 2 + N_DOCS)  # half updated, half new
    v2 = _index(cluster, _catalog(setup.workdir / "v2.jsonl", new_ids, 2), setup.sharded,
                SHARDS, REPLICAS)
    assert list(client.indices.get_alias(name=setup.sharded)) == [v2] and v2 != before
    assert _served(client, setup.sharded) == {f"p{i}" for i in new_ids}
    assert client.cluster.health(index=v2)["status"] == "green"  # replicas allocated
    assert client.indices.exists(index=before)  # kept for rollback
    # back to v1's catalog, so the kill test below checks a known set of documents
    _index(cluster, _catalog(setup.workdir / "v1.jsonl", range(N_DOCS), 1), setup.sharded,
           SHARDS, REPLICAS)
    assert _served(client, setup.sharded) == set(setup.ids)


def test_a_node_killed_every_search_answers_reranked(
    client: OpenSearch, setup: Setup, cluster: Cluster
) -> None:
    local = engine_ctl.cluster(cluster.settings)
    victim = local.owned(local.node(NODES))  # node 3; we search through node 1
    assert victim is not None
    assert node_process.send(victim, signal.SIGKILL)
    failures: list[str] = []
    for i in range(40):
        try:
            resp = _search(client, setup.sharded, setup.pipe, 0.5 + (i % 5) / 10)
        except Exception as exc:  # recorded, asserted below
            failures.append(repr(exc)[:300])
            continue
        ext = resp["ext"]["divrank"]
        if not (ext["applied"] and not ext["degraded"] and len(_page(resp)) == 10):
            failures.append(json.dumps(ext)[:300])
        if resp["_shards"]["failed"]:
            failures.append(f"shard failures: {resp['_shards']}")
    assert not failures, failures[:5]
    assert _served(client, setup.sharded) == set(setup.ids)
    # The sharded index's health, not the cluster's: the one-shard, no-replica twin may
    # have lived on the killed node, which turns the cluster red without touching this index.
    health = client.cluster.health(index=setup.sharded)
    assert health["number_of_nodes"] == NODES - 1 and health["status"] in ("yellow", "green")
