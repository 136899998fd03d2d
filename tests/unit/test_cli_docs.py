"""docs/cli.md is generated from the Typer app; this keeps it in sync (`make docs` rewrites it)."""

from __future__ import annotations

import importlib.util

from config.settings import REPO_ROOT


def test_cli_reference_is_current() -> None:
    script = REPO_ROOT / "docs" / "generate_cli.py"
    spec = importlib.util.spec_from_file_location("generate_cli", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = module.render()
    assert str(REPO_ROOT) not in fresh, "machine paths leaked into the CLI reference"
    committed = (REPO_ROOT / "docs" / "cli.md").read_text()
    assert fresh == committed, "docs/cli.md is stale: run `make docs`"
