"""A shop's judgment list end to end: `divrank eval --catalog --judgments` on the real engine.

Real judgments: 40 Home Depot queries with their crowd grades, over a catalog of their judged
products plus distractors. The judgments are written once as rows (the Kaggle CSV's own
columns) and once in Search Relevance Workbench's import format, the catalog once as JSONL
with our column names and once as CSV with the shop's own names and a `--fields` map. Both
runs must give the same report numbers.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.connection import connect
from config.settings import REPO_ROOT, get_settings
from evaluation.datasets import get_loader
from evaluation.datasets.judgments import JudgmentsLoader
from evaluation.slicing import slice_dataset
from indexer.alias_swap import list_versions
from indexer.catalog import FieldMap, load_field_map
from indexer.presets import homedepot_rows

pytestmark = pytest.mark.integration
DATA = REPO_ROOT.parent / "shared" / "data"


def _shop(folder: Path) -> tuple[Path, Path, Path]:
    """catalog.jsonl, judgments.csv and judgments.json of a 40-query Home Depot slice; the
    same catalog as shop-catalog.csv (columns sku, name, maker, dept) with fields.yaml."""
    settings = get_settings()
    data = slice_dataset(get_loader("homedepot").load(DATA, settings.cache_dir), 40, 500)
    queries = {r.query for r in data.requests}
    catalog = folder / "catalog.jsonl"
    catalog.write_text("".join(
        json.dumps({"id": i, "title": t, "brand": b, "category": c[0] if c else None}) + "\n"
        for i, t, b, c in zip(data.catalog.ids, data.catalog.titles, data.catalog.brands,
                              data.catalog.categories, strict=True)))  # fmt: skip
    with (folder / "shop-catalog.csv").open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["sku", "name", "maker", "dept"])
        for i, t, b, c in zip(data.catalog.ids, data.catalog.titles, data.catalog.brands,
                              data.catalog.categories, strict=True):  # fmt: skip
            out.writerow([i, t, b or "", c[0] if c else ""])
    (folder / "fields.yaml").write_text("id: sku\ntitle: name\nbrand: maker\ncategory: dept\n")
    rows = [(row["search_term"].strip(), row["product_uid"], row["relevance"])
            for _, row in homedepot_rows(DATA)
            if row["search_term"].strip() in queries]  # fmt: skip
    as_csv = folder / "judgments.csv"
    as_csv.write_text("search_term,product_uid,relevance\n"
                      + "".join(f'"{q}",{d},{r}\n' for q, d, r in rows))  # fmt: skip
    by_query: dict[str, list[dict[str, str]]] = {}
    for q, d, r in rows:
        by_query.setdefault(q, []).append({"docId": d, "rating": f"{float(r):.3f}"})
    as_json = folder / "judgments.json"
    as_json.write_text(json.dumps({"name": "hd", "type": "IMPORT_JUDGMENT", "judgmentRatings": [
        {"query": q, "ratings": ratings} for q, ratings in by_query.items()]}))  # fmt: skip
    return catalog, as_csv, as_json


def _divrank(engine: str, tmp_path: Path, command: str, catalog: Path, judgments: Path,
            *options: str, fields: Path | None = None) -> str:  # fmt: skip
    """One `divrank COMMAND --catalog --judgments` run (it must succeed); its index is dropped
    afterwards. Returns its stderr."""
    env = {**os.environ, "DIVRANK_OPENSEARCH_URL": engine, "HF_HUB_OFFLINE": "1",
           "DIVRANK_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    cmd = [sys.executable, "-m", "cli.main", command, "--catalog", str(catalog), "--judgments",
           str(judgments), *options, "--quiet", *(["--fields", str(fields)] if fields else [])]
    try:
        done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=900, check=False)  # fmt: skip
    finally:
        client = connect(get_settings(), url=engine)
        field_map = load_field_map(fields) if fields else FieldMap()
        name = JudgmentsLoader(catalog, judgments, field_map).name
        for version in list_versions(client, f"{name}-eval"):
            client.indices.delete(index=version.name, ignore_unavailable=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def _eval(engine: str, tmp_path: Path, catalog: Path, judgments: Path,
          fields: Path | None = None) -> tuple[str, Any]:  # fmt: skip
    name = judgments.suffix[1:]
    said = _divrank(engine, tmp_path, "eval", catalog, judgments, "--retrieval", "bm25",
                    "--knobs", "0,0.5", "--valid-limit", "0", "--test-limit", "0",
                    "--no-pyversity", "--reports", str(tmp_path / "reports"), "--report-name",
                    name, fields=fields)  # fmt: skip
    runs = json.loads((tmp_path / "reports" / "runs" / f"{name}-test.json").read_text())
    return said + (tmp_path / "reports" / f"{name}.md").read_text(), runs


def test_a_judgment_list_is_evaluated_the_same_from_rows_or_from_srw_json(
    engine: str, tmp_path: Path
) -> None:
    catalog, as_csv, as_json = _shop(tmp_path)
    text, runs = _eval(engine, tmp_path, catalog, as_csv)
    assert "judged: " in text and "judged queries 40" in text
    assert "judgments judgments.csv over catalog.jsonl" in text
    assert "rating levels in [1, 3] → gains 0..10, linear" in text or "by their order" in text
    by = {(p["strategy"], p["diversity"]): p["metrics"] for p in runs}
    engine_order = by[("engine", 0.0)]
    assert 0.0 < engine_order["ndcg@10"] <= 1.0 and 0.0 < engine_order["judged@10"] <= 1.0
    # no users: at knob 0 the diversifiers give the engine's order, and at 0.5 a wider page
    assert by[("mmr", 0.0)]["ndcg@10"] == pytest.approx(engine_order["ndcg@10"])
    assert by[("fusion", 0.5)]["ild@10"] > engine_order["ild@10"]
    assert "buy-again" not in {p["strategy"] for p in runs}  # no histories, no replay rows

    text_json, runs_json = _eval(engine, tmp_path, tmp_path / "shop-catalog.csv", as_json,
                                 fields=tmp_path / "fields.yaml")  # fmt: skip
    assert "judgments judgments.json over shop-catalog.csv" in text_json
    assert "catalog items: 500, catalog rows rejected: 0" in text_json
    metrics = {(p["strategy"], p["diversity"]): p["metrics"]["ndcg@10"] for p in runs}
    assert metrics == {(p["strategy"], p["diversity"]): p["metrics"]["ndcg@10"]
                       for p in runs_json}  # fmt: skip


def test_relevance_learns_from_the_judgment_list(engine: str, tmp_path: Path) -> None:
    """`divrank train-relevance --catalog --judgments`: a model file the sidecar can load."""
    from reranker.relevance_io import load_relevance_model

    catalog, as_csv, _ = _shop(tmp_path)
    out = tmp_path / "shop-relevance.json"
    _divrank(engine, tmp_path, "train-relevance", catalog, as_csv, "--retrievals", "bm25",
             "--rounds", "20", "--out", str(out))  # fmt: skip
    model = load_relevance_model(out)
    assert model.metadata["dataset"].startswith("judged-") and model.metadata["trees"] >= 1
