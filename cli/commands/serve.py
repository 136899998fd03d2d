"""``divrank serve``: the re-ranking sidecar on uvicorn (the app itself is :mod:`reranker.app`).

FastAPI and uvicorn are imported inside the command, so ``divrank --help`` starts fast.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from config.settings import get_settings

__all__ = ["serve"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _multiprocess_metrics_dir() -> tuple[Path, bool]:
    """Where every worker writes its metrics (``/metrics`` sums them); True if we made it."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # a previous run's series would be summed in
            stale.unlink()
        return path, False
    path = Path(tempfile.mkdtemp(prefix="divrank-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    return path, True


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default DIVRANK_HOST, 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default DIVRANK_PORT, 8600)")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default DIVRANK_WORKERS, 1)")
    ] = None,
) -> None:
    """Run the re-ranking sidecar (FastAPI on uvicorn): POST /v1/rerank, /healthz, /metrics."""
    from pydantic import ValidationError

    from reranker.app import serving

    try:
        settings = get_settings()
    except ValidationError as exc:
        reasons = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        print(f"divrank serve: bad configuration: {reasons}")
        raise typer.Exit(2) from None
    from reranker.app.services.model import load_relevance
    from reranker.relevance_io import RelevanceModelError

    try:  # checked here so a bad file is one line at start, not a failure per request
        load_relevance(settings.relevance_model, settings.relevance)
    except RelevanceModelError as exc:
        print(f"divrank serve: bad configuration: {exc} (DIVRANK_RELEVANCE_MODEL; "
              "DIVRANK_RELEVANCE=false runs without it)")
        raise typer.Exit(2) from None
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    metrics_dir, ours = (None, False)
    if workers > 1:
        metrics_dir, ours = _multiprocess_metrics_dir()
        print(f"divrank sidecar: {workers} workers, metrics aggregated in {metrics_dir}")
    print(f"divrank sidecar: http://{host}:{port} (docs at /docs)")
    try:
        serving.run(host, port, workers, access_log=settings.access_log)
    finally:
        if metrics_dir is not None and ours:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)
