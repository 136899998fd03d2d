"""`divrank train`: the method and its options are checked before any data is loaded."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "genetic"], "--method must be listwise or policy, got 'genetic'"),
        (["--method", "policy", "--select-by", "loss"], "--method policy has no loss"),
    ],
)
def test_bad_training_options_name_the_option(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["train", "--no-engine", *args])
    assert result.exit_code == 2
    assert message in result.output
