"""The indexer streams: memory does not grow with the catalog, and a catalog longer than the
first batches still ends in the same rejects check and alias swap.

Real engine (the shared one; each test writes its own alias and deletes it), real catalog
files read from disk, precomputed vectors (no model).
"""

from __future__ import annotations

import json
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch

from indexer.catalog import FieldMap, read_catalog
from indexer.index_run import IndexOptions, RejectsExceeded, run_index

pytestmark = pytest.mark.integration

DIM = 64
FIELDS = FieldMap(id="sku", title="name", embedding="vec")


@pytest.fixture()
def client(engine: str) -> Iterator[OpenSearch]:
    client = OpenSearch(engine, timeout=60)
    yield client


@pytest.fixture()
def alias(client: OpenSearch) -> Iterator[str]:
    name = f"t-stream-{uuid.uuid4().hex[:8]}"
    yield name
    client.indices.delete(index=f"{name}-*", ignore_unavailable=True)


def _catalog(path: Path, rows: int, bad_from: int | None = None) -> Path:
    rng = np.random.default_rng(rows)
    with path.open("w") as out:
        for i in range(rows):
            vec = rng.normal(size=DIM)
            vec /= np.linalg.norm(vec)
            row = {"sku": f"p{i}", "name": f"toner cartridge {i}",
                   "vec": [round(float(x), 5) for x in vec]}
            if bad_from is not None and i >= bad_from:
                row["vec"] = row["vec"][:3]  # wrong size: rejected
            out.write(json.dumps(row) + "\n")
    return path


def _options(alias: str, tmp_path: Path, **extra: object) -> IndexOptions:
    return IndexOptions(alias=alias, embed=False, progress=False, stream_batch=500,
                        chunk_size=250, threads=1, cache_dir=tmp_path,
                        rejects_path=tmp_path / f"{alias}.rejects.jsonl", **extra)  # type: ignore[arg-type]


def _peak(client: OpenSearch, path: Path, alias: str, tmp_path: Path) -> int:
    tracemalloc.start()
    try:
        report = run_index(client, read_catalog(path, FIELDS), _options(alias, tmp_path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.accepted == int(client.count(index=alias)["count"])
    return peak


def test_memory_does_not_grow_with_rows(
    client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    small = _peak(client, _catalog(tmp_path / "2k.jsonl", 2_000), alias, tmp_path)
    large = _peak(client, _catalog(tmp_path / "20k.jsonl", 20_000), alias, tmp_path)
    per_row = (large - small) / 18_000
    print(f"tracemalloc peak: 2k rows {small / 1e6:.1f} MB, 20k rows {large / 1e6:.1f} MB, "
          f"{per_row:.0f} B per extra row")
    # A whole-catalog indexer keeps every item: its 64 float32 (256 B + array header) plus the
    # item and its source dict, > 1 KB a row. Streaming keeps only the ids seen (the duplicate
    # check: a string and a set slot, ~110-160 B a row), so 10x the rows is < 3x the peak.
    assert per_row < 256, (small, large)
    assert large < 3 * small, (small, large)


def test_a_long_catalog_still_checks_rejects_before_the_swap(
    client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    good = run_index(client, read_catalog(_catalog(tmp_path / "ok.jsonl", 1_200), FIELDS),
                     _options(alias, tmp_path))
    assert good.accepted == 1_200
    serving = list(client.indices.get_alias(name=alias))
    # 3000 rows, the last 10% bad: only seen after the first batches are written
    bad = _catalog(tmp_path / "bad.jsonl", 3_000, bad_from=2_700)
    with pytest.raises(RejectsExceeded, match="300"):
        run_index(client, read_catalog(bad, FIELDS), _options(alias, tmp_path))
    assert list(client.indices.get_alias(name=alias)) == serving  # alias not moved
    versions = client.indices.get(index=f"{alias}-*")
    assert list(versions) == serving, "the half-written version was left behind"
    assert int(client.count(index=alias)["count"]) == 1_200
