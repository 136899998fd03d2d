"""`divrank fit-knob`: the knob curve fitted from validation runs, stored with the model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from cli.main import app
from config.settings import REPO_ROOT
from reranker.relevance_io import load_relevance_model

runner = CliRunner()
SHIPPED = REPO_ROOT / "reranker" / "models" / "relevance" / "homedepot.json"
GRID = [round(i / 20, 2) for i in range(21)]


def _runs(path: Path, slow_until: int = 4) -> Path:
    points = []
    for i, knob in enumerate(GRID):
        ndcg = 0.44 - 0.002 * min(i, slow_until) - 0.012 * max(0, i - slow_until)
        points.append({"strategy": "fusion-relevance", "diversity": knob,
                       "metrics": {"ndcg@10": ndcg}})  # fmt: skip
        points.append({"strategy": "engine", "diversity": knob, "metrics": {"ndcg@10": 0.3}})
    path.write_text(json.dumps(points))
    return path


def test_the_curve_lands_in_the_model_and_evens_the_steps(tmp_path: Path) -> None:
    model = shutil.copy(SHIPPED, tmp_path / "model.json")
    runs = _runs(tmp_path / "bm25-valid.json")
    done = runner.invoke(app, ["fit-knob", "--runs", str(runs), "--into", str(model)])
    assert done.exit_code == 0, done.output
    curve = load_relevance_model(model).fusion_weights.knob_curve  # type: ignore[union-attr]
    assert len(curve) == 21 and curve[0] == (0.0, 0.0)
    ndcg = [p["metrics"]["ndcg@10"] for p in json.loads(runs.read_text())[::2]]
    costs = -np.diff([np.interp(b, GRID, ndcg) for _, b in curve])
    assert costs.max() - costs.min() < 1e-3  # the raw grid: 0.002 then 0.012 a step
    before = load_relevance_model(SHIPPED)
    after = load_relevance_model(model)
    assert after.booster.model_to_string() == before.booster.model_to_string()


def test_test_runs_and_short_grids_are_refused(tmp_path: Path) -> None:
    model = Path(shutil.copy(SHIPPED, tmp_path / "model.json"))
    test_runs = _runs(tmp_path / "bm25-test.json")
    done = runner.invoke(app, ["fit-knob", "--runs", str(test_runs), "--into", str(model)])
    assert done.exit_code == 2 and "never the test ones" in done.output
    short = tmp_path / "x-valid.json"
    short.write_text(json.dumps([{"strategy": "fusion-relevance", "diversity": 0.0,
                                  "metrics": {"ndcg@10": 0.4}}]))  # fmt: skip
    done = runner.invoke(app, ["fit-knob", "--runs", str(short), "--into", str(model)])
    assert done.exit_code == 2 and "needs NDCG@10 at knobs 0" in done.output
    assert model.read_bytes() == SHIPPED.read_bytes()  # refused: the model file untouched
