"""A bad catalog or events file ends ``divrank index`` / ``divrank profiles build`` with exactly
one error line that names the file, the line and what is wrong there, and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from config.settings import REPO_ROOT

pytestmark = pytest.mark.integration


def _run(engine: str, *args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args, "--url", engine],
        cwd=REPO_ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"), capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, lines


def _one_line(lines: list[str]) -> str:
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def test_malformed_jsonl_names_file_and_line(engine: str, tmp_path: Path) -> None:
    path = tmp_path / "catalog.jsonl"
    path.write_text('{"id": "a", "title": "toner"}\n{"id": "b", "title":\n')
    alias = f"t-bad-{uuid.uuid4().hex[:6]}"
    code, lines = _run(engine, "index", "--input", str(path), "--alias", alias)
    line = _one_line(lines)  # one row of two is not a row: a reject, above the 5% default
    assert code == 3 and str(path) in line and "line 2 (malformed_row)" in line and "JSON" in line


def test_bad_field_names_file_line_and_field(engine: str, tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text("id,title,price\na,toner cartridge,notanumber\n")
    code, lines = _run(engine, "index", "--input", str(path), "--no-embed",
                       "--alias", f"t-bad-{uuid.uuid4().hex[:6]}",
                       "--rejects", str(tmp_path / "rejects.jsonl"))  # fmt: skip
    line = _one_line(lines)
    assert code != 0
    assert str(path) in line and "line 2" in line and "price" in line and "notanumber" in line


def test_bad_events_name_file_line_and_field(engine: str, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"user_id": "u1", "item_id": "i1", "type": "purchase"}\n')
    code, lines = _run(engine, "profiles", "build", "--events", str(path),
                       "--alias", f"t-bad-prof-{uuid.uuid4().hex[:6]}",
                       "--rejects", str(tmp_path / "rejects.jsonl"))  # fmt: skip
    line = _one_line(lines)
    assert code != 0
    assert str(path) in line and "line 1" in line and "timestamp" in line
