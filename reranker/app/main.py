"""The sidecar's ASGI app: wiring only (state, middleware, error handlers, routes, OpenAPI).

Run it with ``divrank serve``, or ``uvicorn --factory reranker.app.main:create_app``.
Nothing imported from here pulls in torch: the request path is numpy only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from config.settings import Settings, get_settings
from reranker.app.api import api_router
from reranker.app.api.routes import demo, search
from reranker.app.body_limit import BodyLimitMiddleware
from reranker.app.errors import install_error_handlers
from reranker.app.metrics import MetricsMiddleware
from reranker.app.openapi import install_openapi
from reranker.app.state import build_state
from reranker.core.warmup import warm_up

__all__ = ["create_app"]

API_VERSION = "1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    state = build_state(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warm_up()  # compile the ranking kernels before the first request, not during it
        state.start()
        yield
        state.close()

    # With a token, the interactive docs are off too: every route but health and metrics is
    # behind it, and Swagger's pages cannot send it.
    docs = {} if not settings.token else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(
        title="divrank sidecar",
        description="Personalization and diversity re-ranking for search results (docs/api.md).",
        version=API_VERSION,
        lifespan=lifespan,
        **docs,  # type: ignore[arg-type]
    )
    app.state.sidecar = state
    app.include_router(api_router)
    if settings.demo:  # DIVRANK_DEMO=false (the Docker image) removes the demo routes
        app.include_router(demo.router)  # the demo page and its two JSON calls
    app.include_router(search.router)  # POST /v1/search: off unless DIVRANK_SEARCH_PROXY_URL
    install_error_handlers(app)
    install_openapi(app)
    # add_middleware prepends: metrics is outermost, so the size check's 413s are counted.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, known_paths=frozenset(app.openapi()["paths"]))
    return app
