"""The request path is numpy only: importing and serving must not load torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_app_import_and_one_request_do_not_import_torch() -> None:
    script = textwrap.dedent(
        """
        import sys
        from fastapi.testclient import TestClient
        from reranker.app.main import create_app
        from config.settings import Settings

        app = create_app(Settings(sidecar_lookups=False))
        with TestClient(app) as http:
            body = {"candidates": [{"id": "a", "score": 1.0, "embedding": [1.0, 0.0]},
                                   {"id": "b", "score": 0.5, "embedding": [0.0, 1.0]}],
                    "k": 2, "user": {"history": {"vectors": [[1.0, 0.0]]}},
                    "knobs": {"strategy": "fusion", "explain": True}}
            assert http.post("/v1/rerank", json=body).status_code == 200
        heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers")
                       if m in sys.modules)
        print("HEAVY=" + ",".join(heavy))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY=\n" in result.stdout, result.stdout


def test_cli_import_does_not_import_the_web_stack() -> None:
    """``divrank --help`` and the indexer commands should not pay for FastAPI/uvicorn."""
    script = (
        "import sys, cli.commands.serve; "
        "print('LOADED=' + ','.join(m for m in ('fastapi', 'uvicorn', 'torch') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED=\n" in result.stdout, result.stdout
