"""``GET /healthz`` (the process answers) and ``GET /readyz`` (it can serve well)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from reranker.app.api.deps import StateDep

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: weights loaded and, with look-ups on, OpenSearch reachable",
    responses={503: {"description": "Not ready; `checks` says which part failed"}},
)
async def readyz(state: StateDep) -> JSONResponse:
    checks: dict[str, Any] = await run_in_threadpool(state.readiness)
    ready = all(value in ("ok", "disabled") for value in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)
