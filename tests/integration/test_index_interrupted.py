"""kill -9 in the middle of a bulk load: the alias keeps serving the previous complete version,
and the next run removes the half-written orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from cli.main import app
from indexer.alias_swap import list_versions

pytestmark = pytest.mark.integration
runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def alias(engine: str) -> Iterator[str]:
    name = f"t-idx-{uuid.uuid4().hex[:8]}"
    yield name
    OpenSearch(engine).indices.delete(index=f"{name}-*", ignore_unavailable=True)


def _indexed_docs(client: OpenSearch, index: str) -> int:
    stats = client.indices.stats(index=index, metric="indexing")
    return int(stats["_all"]["primaries"]["indexing"]["index_total"])


def test_kill_mid_bulk_then_recover(engine: str, alias: str, tmp_path: Path) -> None:
    client = OpenSearch(engine, timeout=60)
    first = runner.invoke(
        app,
        [
            "index",
            "--preset",
            "icecat",
            "--limit",
            "300",
            "--alias",
            alias,
            "--url",
            engine,
            "--no-progress",
        ],
    )
    assert first.exit_code == 0, first.output
    (serving,) = client.indices.get_alias(name=alias)

    # Small bulk requests, one at a time: the load takes long enough to be caught mid-way.
    env = {**os.environ, "DIVRANK_OPENSEARCH_URL": engine}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "index",
            "--preset",
            "icecat",
            "--limit",
            "4000",
            "--alias",
            alias,
            "--chunk-size",
            "10",
            "--threads",
            "1",
            "--no-progress",
            "--rejects",
            str(tmp_path / "rejects.jsonl"),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        victim = None
        while time.monotonic() < deadline and proc.poll() is None:
            fresh = [v for v in list_versions(client, alias) if not v.complete]
            if fresh and _indexed_docs(client, fresh[0].name) >= 200:
                victim = fresh[0].name
                break
            time.sleep(0.2)
        assert victim is not None, "the load finished or never started bulk writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    # The alias never moved and still answers with the complete version.
    assert list(client.indices.get_alias(name=alias)) == [serving]
    assert client.count(index=alias)["count"] == 300
    orphan = next(v for v in list_versions(client, alias) if v.name == victim)
    assert not orphan.complete and not orphan.serving

    # The next run recognises the orphan (incomplete, writer dead) and removes it.
    again = runner.invoke(
        app,
        [
            "index",
            "--preset",
            "icecat",
            "--limit",
            "300",
            "--alias",
            alias,
            "--url",
            engine,
            "--json",
            "--no-progress",
        ],
    )
    assert again.exit_code == 0, again.output
    assert victim in again.stdout
    names = [v.name for v in list_versions(client, alias)]
    assert victim not in names and serving in names and len(names) == 2
