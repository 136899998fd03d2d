"""Write docs/cli.md from the Typer app, with machine paths shown relative to the checkout.

Defaults such as ``--reports`` are absolute paths at run time; the reference must read the same
on every machine, so the checkout becomes ``.`` and its parent ``..``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def render() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cli.md"
        subprocess.run(
            [sys.executable, "-m", "typer", "cli.main", "utils", "docs", "--name", "divrank",
             "--output", str(out)],
            check=True, cwd=REPO, capture_output=True,
        )
        text = out.read_text()
    return text.replace(str(REPO), ".").replace(str(REPO.parent), "..")


if __name__ == "__main__":
    target = REPO / "docs" / "cli.md"
    target.write_text(render())
    print(f"wrote {target}")
