"""`divrank index --engine elasticsearch`: versions, atomic alias swap, rollback, kNN."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from cli.main import app
from indexer.alias_swap import list_versions, serving_index
from indexer.engine_dialect import ELASTICSEARCH

pytestmark = pytest.mark.integration
runner = CliRunner()
DIM = 16


@pytest.fixture()
def es(es_engine: str) -> Elasticsearch:
    return Elasticsearch(es_engine, request_timeout=30)


@pytest.fixture()
def alias(es: Elasticsearch) -> Iterator[str]:
    name = f"t-es-idx-{uuid.uuid4().hex[:8]}"
    yield name
    # Elasticsearch refuses wildcard deletes (action.destructive_requires_name): by name.
    names = list(es.indices.get(index=f"{name}-*", allow_no_indices=True))
    if names:
        es.indices.delete(index=",".join(names))


def _catalog(path: Path, n: int, seed: int) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    rows = [
        {
            "sku": f"p{i}",
            "name": f"toner cartridge {i}",
            "path": ["Printing/Toner", "Printing/Ink", "Office/Paper"][i % 3],
            "maker": ["hp", "canon", "brother", "epson"][i % 4],
            "cost": 10.0 + i,
            "vec": vectors[i].tolist(),
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path, vectors


def _index(es_engine: str, alias: str, catalog: Path) -> dict:
    result = runner.invoke(
        app,
        ["index", "--engine", "elasticsearch", "--url", es_engine, "--input", str(catalog),
         "--alias", alias, "--id-field", "sku", "--title-field", "name", "--category-field",
         "path", "--brand-field", "maker", "--price-field", "cost", "--embedding-field", "vec",
         "--no-embed", "--no-progress", "--json", "--rejects", str(catalog) + ".rejects"],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_index_swap_and_rollback(
    es_engine: str, es: Elasticsearch, alias: str, tmp_path: Path
) -> None:
    first_cat, first_vecs = _catalog(tmp_path / "a.jsonl", 60, seed=1)
    first = _index(es_engine, alias, first_cat)
    assert first["accepted"] == 60 and first["previous"] is None and first["dim"] == DIM
    assert serving_index(es, alias) == first["index"]

    mapping = es.indices.get_mapping(index=first["index"])[first["index"]]["mappings"]
    field = mapping["properties"]["embedding"]
    assert field["type"] == "dense_vector" and field["index"] is True
    assert field["similarity"] == "cosine" and field["index_options"]["type"] == "hnsw"
    assert mapping["_meta"]["divrank"]["complete"] is True
    assert mapping["_meta"]["divrank"]["rows"] == 60

    # kNN through the alias finds a document by its own vector.
    probe = ELASTICSEARCH.knn_probe("embedding", first_vecs[7].tolist(), 3)
    hits = es.search(index=alias, body=probe)["hits"]["hits"]
    assert hits[0]["_id"] == "p7"

    second_cat, _ = _catalog(tmp_path / "b.jsonl", 45, seed=2)
    second = _index(es_engine, alias, second_cat)
    assert second["previous"] == first["index"]
    assert serving_index(es, alias) == second["index"]
    assert es.count(index=alias)["count"] == 45
    versions = list_versions(es, alias)
    assert [v.name for v in versions] == [first["index"], second["index"]]
    assert all(v.complete for v in versions)

    listed = runner.invoke(
        app, ["index", "list", "--engine", "elasticsearch", "--url", es_engine, "--alias", alias]
    )
    assert listed.exit_code == 0 and "serving complete" in listed.stdout

    back = runner.invoke(
        app,
        ["index", "rollback", "--engine", "elasticsearch", "--url", es_engine, "--alias", alias],
    )
    assert back.exit_code == 0, back.output
    assert serving_index(es, alias) == first["index"]
    assert es.count(index=alias)["count"] == 60


def test_rejected_load_leaves_alias_and_no_orphan(
    es_engine: str, es: Elasticsearch, alias: str, tmp_path: Path
) -> None:
    good, _ = _catalog(tmp_path / "a.jsonl", 30, seed=3)
    first = _index(es_engine, alias, good)
    # 2 of 5 rows carry a vector of another size: 40% rejects > 10% allowed, exit 3.
    bad = tmp_path / "bad.jsonl"
    sizes = [2, 2, 2, 3, 3]
    bad.write_text(
        "\n".join(
            json.dumps({"sku": f"x{i}", "name": "n", "vec": [0.1] * d})
            for i, d in enumerate(sizes)
        )
        + "\n"
    )
    result = runner.invoke(
        app,
        ["index", "--engine", "elasticsearch", "--url", es_engine, "--input", str(bad),
         "--alias", alias, "--id-field", "sku", "--title-field", "name",
         "--embedding-field", "vec", "--no-embed", "--no-progress", "--max-reject-ratio", "0.1",
         "--rejects", str(tmp_path / "rejects.jsonl")],
    )
    assert result.exit_code == 3, result.output
    assert serving_index(es, alias) == first["index"]
    assert [v.name for v in list_versions(es, alias)] == [first["index"]]


def test_unreachable_elasticsearch_is_one_clear_line(tmp_path: Path) -> None:
    cat, _ = _catalog(tmp_path / "a.jsonl", 3, seed=4)
    result = runner.invoke(
        app,
        ["index", "--engine", "elasticsearch", "--url", "http://127.0.0.1:1", "--input",
         str(cat), "--alias", "t-es-nowhere", "--id-field", "sku", "--title-field", "name",
         "--embedding-field", "vec", "--no-embed", "--no-progress"],
    )
    assert result.exit_code == 1
    assert "cannot reach Elasticsearch at http://127.0.0.1:1" in result.output
    assert "Traceback" not in result.output
