"""Request-scoped dependencies: settings, the bearer-token check, the parsed rerank body.

They are ``async def`` although none of them awaits: FastAPI runs a plain ``def`` dependency in
the thread pool, and four thread hand-offs per request cost more than everything they do.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from config.settings import Settings
from reranker.app.schemas import Limits, RerankRequest
from reranker.app.services.reranking import Reranker
from reranker.app.state import SidecarState
from reranker.app.validation import parse_rerank_request

__all__ = [
    "Authorized",
    "ParsedRerankRequest",
    "RerankerDep",
    "SettingsDep",
    "StateDep",
]

_bearer = HTTPBearer(auto_error=False, description="Required when DIVRANK_TOKEN is set")


async def get_state(request: Request) -> SidecarState:
    state: SidecarState = request.app.state.sidecar
    return state


StateDep = Annotated[SidecarState, Depends(get_state)]


async def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_reranker(state: StateDep) -> Reranker:
    return state.reranker


RerankerDep = Annotated[Reranker, Depends(get_reranker)]


async def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """With ``DIVRANK_TOKEN`` set, demand ``Authorization: Bearer <token>`` (constant time)."""
    expected = settings.token
    if not expected:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


Authorized = Depends(require_token)


async def rerank_body(request: Request, settings: SettingsDep) -> RerankRequest:
    """The body, size-limited by the app and parsed straight from bytes (see validation.py)."""
    body = await request.body()
    limits = Limits(max_candidates=settings.max_candidates, max_dimension=settings.max_dimension)
    return parse_rerank_request(body, limits)


ParsedRerankRequest = Annotated[RerankRequest, Depends(rerank_body)]
