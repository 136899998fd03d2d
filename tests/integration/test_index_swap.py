"""Versioned loads: alias swap, rollback, --keep pruning, rejects file and threshold."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from cli.main import app
from config.vector_fetch import hit_vector, search_by_ids
from indexer.alias_swap import list_versions
from indexer.presets import icecat_items

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture()
def alias(engine: str) -> Iterator[str]:
    name = f"t-idx-{uuid.uuid4().hex[:8]}"
    yield name
    OpenSearch(engine).indices.delete(index=f"{name}-*", ignore_unavailable=True)


def _catalog(path: Path, n: int, bad: bool = False) -> Path:
    rows = []
    for item in itertools.islice(icecat_items(), n):
        rows.append(
            {
                "sku": item.id,
                "name": item.title,
                "text": item.description,
                "path": item.category,
                "maker": item.brand,
                "cost": item.price,
            }
        )
    if bad:
        rows += [
            {"sku": "", "name": "no id"},
            {"sku": "x1", "name": "", "text": ""},
            {"sku": rows[0]["sku"], "name": "dup"},
            {"sku": "x2", "name": "pricey", "cost": "a lot"},
            {"sku": "x3", "name": "wrong vector", "vec": [0.1, 0.2, 0.3]},
            {"sku": "x4", "name": "right vector", "vec": np.eye(384)[0].tolist()},
        ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _index(engine: str, alias: str, catalog: Path, *extra: str) -> tuple[int, dict | str]:
    args = [
        "index",
        "--input",
        str(catalog),
        "--alias",
        alias,
        "--id-field",
        "sku",
        "--title-field",
        "name",
        "--description-field",
        "text",
        "--category-field",
        "path",
        "--brand-field",
        "maker",
        "--price-field",
        "cost",
        "--embedding-field",
        "vec",
        "--json",
        "--url",
        engine,
        *extra,
    ]
    result = runner.invoke(app, args)
    if result.exit_code != 0:
        return result.exit_code, result.output
    return 0, json.loads(result.stdout[result.stdout.index("{") :])


def test_swap_rollback_keep(engine: str, alias: str, tmp_path: Path) -> None:
    client = OpenSearch(engine)
    code, first = _index(engine, alias, _catalog(tmp_path / "a.jsonl", 200))
    assert code == 0, first
    assert isinstance(first, dict) and first["previous"] is None
    code, second = _index(engine, alias, _catalog(tmp_path / "b.jsonl", 150))
    assert code == 0 and isinstance(second, dict), second
    assert second["previous"] == first["index"]
    assert client.count(index=alias)["count"] == 150
    assert [v.name for v in list_versions(client, alias)] == [first["index"], second["index"]]

    result = runner.invoke(app, ["index", "rollback", "--alias", alias, "--url", engine])
    assert result.exit_code == 0, result.output
    assert list(client.indices.get_alias(name=alias)) == [first["index"]]
    assert client.count(index=alias)["count"] == 200
    result = runner.invoke(app, ["index", "rollback", "--alias", alias, "--url", engine])
    assert result.exit_code == 1 and "no earlier complete version" in result.output
    result = runner.invoke(
        app, ["index", "rollback", "--alias", alias, "--to", second["index"], "--url", engine]
    )
    assert result.exit_code == 0 and list(client.indices.get_alias(name=alias)) == [second["index"]]

    code, third = _index(engine, alias, _catalog(tmp_path / "c.jsonl", 100), "--keep", "1")
    assert code == 0 and isinstance(third, dict), third
    assert sorted(third["pruned"]) == sorted([first["index"], second["index"]])
    assert [v.name for v in list_versions(client, alias)] == [third["index"]]


def test_rejects_file_and_threshold(engine: str, alias: str, tmp_path: Path) -> None:
    client = OpenSearch(engine)
    rejects = tmp_path / "rejects.jsonl"
    code, report = _index(
        engine, alias, _catalog(tmp_path / "a.jsonl", 120, bad=True), "--rejects", str(rejects)
    )
    assert code == 0 and isinstance(report, dict), report
    assert report["accepted"] == 121 and report["rejected"] == 5
    records = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert sorted(r["reason"] for r in records) == sorted(
        ["missing_id", "empty_text", "duplicate_id", "non_numeric_price", "wrong_vector_size"]
    )
    assert next(r for r in records if r["reason"] == "wrong_vector_size")["id"] == "x3"
    # the precomputed vector was kept as given
    kept = hit_vector(search_by_ids(client, alias, ["x4"])[0], "embedding")
    assert kept is not None and kept[:2].tolist() == [1.0, 0.0]

    # 5 bad of 15 rows is above a 10% threshold: exit 3, alias untouched, nothing created
    before = [v.name for v in list_versions(client, alias)]
    code, output = _index(
        engine,
        alias,
        _catalog(tmp_path / "b.jsonl", 10, bad=True),
        "--rejects",
        str(rejects),
        "--max-reject-ratio",
        "0.1",
    )
    assert code == 3 and "above --max-reject-ratio" in str(output)
    assert [v.name for v in list_versions(client, alias)] == before
    assert list(client.indices.get_alias(name=alias)) == [report["index"]]


def test_concrete_index_named_like_the_alias_is_refused(
    engine: str, alias: str, tmp_path: Path
) -> None:
    client = OpenSearch(engine)
    client.indices.create(index=f"{alias}-plain")
    code, output = _index(engine, f"{alias}-plain", _catalog(tmp_path / "a.jsonl", 5))
    assert code == 1 and "is a concrete index" in str(output)


def test_reindex_keeps_the_default_search_pipeline(engine: str, alias: str, tmp_path: Path) -> None:
    from cli import pipeline

    client = OpenSearch(engine)
    code, first = _index(engine, alias, _catalog(tmp_path / "a.jsonl", 50))
    assert code == 0 and isinstance(first, dict), first
    name = f"t-pipe-{uuid.uuid4().hex[:8]}"
    client.transport.perform_request(
        "PUT", f"/_search/pipeline/{name}",
        body={"response_processors": [{"truncate_hits": {"target_size": 5}}]},
    )
    try:
        assert pipeline.set_default(client, alias, name=name) == [first["index"]]
        code, second = _index(engine, alias, _catalog(tmp_path / "b.jsonl", 40))
        assert code == 0 and isinstance(second, dict), second
        flat = client.indices.get_settings(index=second["index"], flat_settings=True)
        assert flat[second["index"]]["settings"]["index.search.default_pipeline"] == name
        # the pipeline really runs on the new version behind the alias
        hits = client.search(index=alias, body={"size": 20, "query": {"match_all": {}}})
        assert len(hits["hits"]["hits"]) == 5
    finally:
        client.indices.delete(index=f"{alias}-*", ignore_unavailable=True)
        client.transport.perform_request("DELETE", f"/_search/pipeline/{name}")
