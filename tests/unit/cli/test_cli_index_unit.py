"""CLI behaviour that needs no engine: argument errors and an unreachable engine."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def test_unreachable_engine_is_one_clear_line() -> None:
    result = runner.invoke(
        app, ["index", "--preset", "icecat", "--alias", "x", "--url", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 1
    assert "cannot reach OpenSearch at http://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(
        app, ["profiles", "build", "--events", "e.jsonl", "--url", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 1 and "cannot reach OpenSearch" in result.output


def test_argument_errors() -> None:
    result = runner.invoke(app, ["index", "--preset", "icecat"])
    assert result.exit_code == 1 and "--alias is required" in result.output
    result = runner.invoke(app, ["index", "--alias", "a"])
    assert result.exit_code == 1 and "exactly one of --input" in result.output
    result = runner.invoke(app, ["index", "--alias", "a", "--preset", "nope"])
    assert result.exit_code == 1 and "use one of icecat, homedepot" in result.output
    result = runner.invoke(app, ["index", "--alias", "a", "--preset", "icecat", "--storage", "fp8"])
    assert result.exit_code == 1 and "--storage" in result.output


def test_profiles_until_must_be_a_moment() -> None:
    result = runner.invoke(
        app, ["profiles", "build", "--events", "e.jsonl", "--until", "last tuesday",
              "--url", "http://127.0.0.1:9"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--until" in result.output and "not a moment" in result.output
