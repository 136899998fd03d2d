"""`divrank fit-gain`: bad options end in one sentence and exit 2, the model file untouched
(the fit itself runs against a real engine in tests/integration/test_replay_eval.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from config.settings import REPO_ROOT

runner = CliRunner()
SHIPPED = REPO_ROOT / "reranker" / "models" / "relevance" / "homedepot.json"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--temperatures", "0,sharp"], "--temperatures must be comma-separated numbers"),
        (["--temperatures", "0,-0.5"], "--temperatures must lie in [0, 10]"),
        (["--temperatures", ","], "--temperatures must lie in [0, 10]"),
        (["--retrieval", " , "], "--retrieval names no candidate set"),
        (["--catalog", "shop.jsonl"], "needs --catalog and either --events or --judgments"),
    ],
)
def test_bad_options_are_one_clear_error(tmp_path: Path, options: list[str], message: str) -> None:
    model = Path(shutil.copy(SHIPPED, tmp_path / "model.json"))
    done = runner.invoke(app, ["fit-gain", "--into", str(model), "--no-engine", *options])
    assert done.exit_code == 2 and message in done.output, done.output
    assert model.read_bytes() == SHIPPED.read_bytes()


def test_a_missing_model_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    done = runner.invoke(app, ["fit-gain", "--into", str(missing), "--no-engine"])
    assert done.exit_code == 2 and f"--into {missing}" in done.output
    assert "no such file" in done.output
