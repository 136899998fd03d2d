"""The demo page (``GET /demo``) and its two JSON calls: the demo users, one side-by-side search.

``POST /demo/search`` runs the page's search twice against OpenSearch, with
``search_pipeline=_none`` (engine order) and through the divrank search pipeline (which calls
this sidecar's ``/v1/rerank`` through the plugin), so the page shows what a frontend gets. The
search logic (:mod:`reranker.app.demo_search`) is shared with ``divrank demo``; no torch is
imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from reranker.app.api.deps import Authorized, SettingsDep
from reranker.app.demo_search import DEMO_USERS, DemoError, compare, demo_client
from reranker.contract import DEFAULT_DIVERSITY

__all__ = ["DEMO_PAGE", "router"]

DEMO_PAGE = Path(__file__).resolve().parents[3] / "static" / "demo.html"

router = APIRouter(tags=["demo"], dependencies=[Authorized])


class DemoSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2048, description="Free text, as a shopper types")
    user_id: str | None = Field(None, min_length=1, max_length=512, description="Demo user id")
    diversity: float = Field(
        DEFAULT_DIVERSITY, ge=0.0, le=1.0, description="ext.divrank.diversity"
    )
    size: int = Field(10, ge=1, le=50, description="Hits per column")


class DemoHitOut(BaseModel):
    id: str
    title: str
    brand: str | None
    category: str | None
    price: float | None
    score: float | None = Field(description="The engine's score")
    explanation: dict[str, Any] | None = Field(description="fields._divrank of the hit")


class DemoSearchOut(BaseModel):
    query: str
    user_id: str | None
    diversity: float
    alias: str
    pipeline: str
    engine: list[DemoHitOut]
    divrank: list[DemoHitOut]
    applied: bool = Field(description="ext.divrank.applied")
    degraded: bool = Field(description="ext.divrank.degraded: the pipeline fell back")
    reason: str | None = Field(description="ext.divrank.reason")
    strategy: str | None


class DemoUserOut(BaseModel):
    id: str
    label: str
    story: str


class DemoUsersOut(BaseModel):
    users: list[DemoUserOut]


@router.get("/demo", include_in_schema=False)
async def demo_page() -> FileResponse:
    return FileResponse(DEMO_PAGE, media_type="text/html")


@router.get("/demo/users", summary="The scripted demo shoppers (`divrank demo profiles`)")
async def demo_users() -> DemoUsersOut:
    return DemoUsersOut(users=[DemoUserOut(**u.public()) for u in DEMO_USERS])


@router.post(
    "/demo/search",
    summary="One search twice: engine order and through the divrank search pipeline",
    responses={503: {"description": "The engine, the demo index or the pipeline is missing"}},
    response_model=DemoSearchOut,
)
def demo_search(body: DemoSearch, settings: SettingsDep) -> DemoSearchOut | JSONResponse:
    # A plain (threadpool) handler: the pipeline calls back into this process's /v1/rerank,
    # so the event loop must stay free while the search waits.
    client = demo_client(
        settings.opensearch_url, settings.opensearch_user, settings.opensearch_password
    )
    try:
        result = compare(client, settings.demo_alias, settings.demo_pipeline, body.query,
                         body.user_id, body.diversity, body.size)
    except DemoError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=503)
    data = result.as_dict()
    return DemoSearchOut(alias=settings.demo_alias, pipeline=settings.demo_pipeline, **data)
