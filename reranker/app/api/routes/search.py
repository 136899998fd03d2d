"""``POST /v1/search``: the client-side hook as a proxy, for callers that cannot embed Python.

Off unless ``DIVRANK_SEARCH_PROXY_URL`` names an engine (Elasticsearch or OpenSearch): then the
body's search runs there with a widened window and is re-ranked in process by this sidecar's
own service, exactly as :func:`reranker.hook.divrank_search` does (same reasons, same
``ext.divrank``, fail-open).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from reranker.app.api.deps import Authorized, StateDep
from reranker.app.inprocess import InProcessReranker
from reranker.app.state import SidecarState
from reranker.hook.engine_http import EngineHttpClient, EngineHttpError
from reranker.hook.knobs import DivrankRequestError
from reranker.hook.search import HookConfig, divrank_search

__all__ = ["SearchProxyRequest", "router"]

router = APIRouter(prefix="/v1", tags=["search"], dependencies=[Authorized])
_lock = threading.Lock()


class SearchProxyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,254}$",
        description="Index or alias to search (one name, no wildcards)",
    )
    body: dict[str, Any] = Field(
        default_factory=dict,
        description="The engine's search body; may carry `ext.divrank` as for the plugin",
    )


def _proxy(request: Request, state: SidecarState) -> tuple[EngineHttpClient, InProcessReranker]:
    settings = state.settings
    if not settings.search_proxy_url:
        raise HTTPException(404, "the search proxy is off; set DIVRANK_SEARCH_PROXY_URL")
    with _lock:
        proxy = getattr(request.app.state, "search_proxy", None)
        if proxy is None:
            auth = None
            if settings.elasticsearch_user:
                auth = (settings.elasticsearch_user, settings.elasticsearch_password or "")
            proxy = (
                EngineHttpClient(settings.search_proxy_url, auth=auth),
                InProcessReranker(state.reranker, settings.max_candidates, settings.max_dimension),
            )
            request.app.state.search_proxy = proxy
    return proxy


@router.post(
    "/search",
    responses={
        404: {"description": "The proxy is off (DIVRANK_SEARCH_PROXY_URL unset)"},
        422: {"description": "Invalid request or `ext.divrank`; `detail[].loc` names the field"},
        502: {"description": "The engine is unreachable or failed"},
    },
    summary="Search the configured engine and re-rank the page (client-side hook as a proxy)",
)
async def search(
    request: Request, payload: Annotated[SearchProxyRequest, Body()], state: StateDep
) -> dict[str, Any]:
    engine, reranker = _proxy(request, state)
    config = HookConfig(window_size=state.settings.search_proxy_window)
    try:
        return await run_in_threadpool(
            divrank_search, engine, payload.index, payload.body, reranker=reranker, config=config
        )
    except DivrankRequestError as exc:
        raise HTTPException(
            422,
            [
                {
                    "type": "divrank_invalid",
                    "loc": ["body", "body", "ext", "divrank"],
                    "msg": str(exc),
                }
            ],
        ) from None
    except EngineHttpError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            raise HTTPException(exc.status, {"engine_error": exc.error}) from None
        raise HTTPException(502, f"{exc}") from None
