"""A configured weights file that cannot be loaded: /readyz says so, requests keep working."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from reranker.app.embedded import embedded_sidecar
from reranker.app.services.model import DEFAULT_MODEL_VERSION


def test_unloadable_weights_make_readyz_503_but_rerank_serves_defaults(
    kit: Any, tmp_path: Path
) -> None:
    settings = kit.settings(weights_path=tmp_path / "missing.safetensors")
    with embedded_sidecar(settings) as running, httpx.Client(base_url=running.url) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["weights"] != "ok"
        answer = http.post("/v1/rerank", json=kit.payload())
        assert answer.status_code == 200
        assert answer.json()["model_version"] == DEFAULT_MODEL_VERSION
