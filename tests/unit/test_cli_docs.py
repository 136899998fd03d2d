"""docs/cli.md is generated from the Typer app; this keeps it in sync (`make docs` rewrites it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reranker.settings import REPO_ROOT


def test_cli_reference_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "cli.md"
    subprocess.run(
        [sys.executable, "-m", "typer", "indexer.cli", "utils", "docs", "--name", "divrank",
         "--output", str(fresh)],
        check=True, cwd=REPO_ROOT, capture_output=True,
    )
    committed = (REPO_ROOT / "docs" / "cli.md").read_text()
    assert fresh.read_text() == committed, "docs/cli.md is stale: run `make docs`"
