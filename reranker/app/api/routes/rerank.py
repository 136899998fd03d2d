"""``POST /v1/rerank``: parse (in the dependency), delegate to the service, serialise the answer."""

from __future__ import annotations

from fastapi import APIRouter, Response
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
async def rerank(request: ParsedRerankRequest, reranker: RerankerDep) -> Response:
    # Look-ups block on the network: keep the event loop free for them. Ranking alone is a few
    # hundred microseconds of CPU under the GIL, where a thread hand-off only adds latency.
    if reranker.may_block(request):
        answer = await run_in_threadpool(reranker, request)
    else:
        answer = reranker(request)
    # Serialised here, once: returning the model would have FastAPI validate it a second time.
    return Response(answer.model_dump_json(exclude_none=True), media_type="application/json")
