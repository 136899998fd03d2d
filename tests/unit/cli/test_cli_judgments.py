"""`divrank eval --judgments`: wrong combinations end in one sentence and exit 2 (the
evaluation itself runs against a real engine in tests/integration/test_judgments_eval.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--catalog", "J", "--events", "J"], "--events (a log to replay) or --judgments"),
        ([], "needs --catalog and either --events or --judgments"),
        (["--catalog", "missing.jsonl"], "--catalog missing.jsonl does not exist"),
    ],
)
def test_bad_combinations_are_one_clear_error(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    path = tmp_path / "j.csv"
    path.write_text("query,doc_id,rating\nlamp,a,1\n")
    args = [str(path) if a == "J" else a for a in extra]
    done = runner.invoke(app, ["eval", "--judgments", str(path), "--no-engine", *args])
    assert done.exit_code == 2 and message in done.output, done.output


@pytest.mark.parametrize(
    ("fields", "extra", "message"),
    [
        ("id: sku\n", [], "--fields maps the columns of --catalog: give --catalog too"),
        ("id: [unclosed\n  - : :", ["--catalog", "J", "--judgments", "J"], "field map"),
        ("titel: name\n", ["--catalog", "J", "--events", "J"], "unknown key(s) titel"),
    ],
)
def test_a_field_map_that_cannot_apply_is_one_clear_error(
    tmp_path: Path, fields: str, extra: list[str], message: str
) -> None:
    path, mapping = tmp_path / "j.csv", tmp_path / "map.yaml"
    path.write_text("query,doc_id,rating\nlamp,a,1\n")
    mapping.write_text(fields)
    args = [str(path) if a == "J" else a for a in extra]
    done = runner.invoke(app, ["eval", "--fields", str(mapping), "--no-engine", *args])
    assert done.exit_code == 2 and message in done.output, done.output
