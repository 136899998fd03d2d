"""``POST /v1/rerank``: parse (in the dependency), delegate to the service, return the model."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from reranker.app.api.deps import Authorized, ParsedRerankRequest, RerankerDep
from reranker.app.schemas import RerankResponse

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["rerank"], dependencies=[Authorized])

_REQUEST_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RerankRequest"}}},
}


@router.post(
    "/rerank",
    response_model=RerankResponse,
    response_model_exclude_none=True,
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        401: {"description": "DIVRANK_TOKEN is set and the bearer token is missing or wrong"},
        413: {"description": "Body larger than DIVRANK_MAX_BODY_BYTES"},
        422: {"description": "Invalid request; `detail[].loc` names each bad field"},
    },
    summary="Re-order the engine's candidates for this user, with diversity",
)
async def rerank(request: ParsedRerankRequest, reranker: RerankerDep) -> RerankResponse:
    # Look-ups block on the network and ranking is CPU work: keep the event loop free.
    return await run_in_threadpool(reranker, request)
