"""One router per concern; ``api_router`` joins them."""

from fastapi import APIRouter

from reranker.app.api.routes import health, metrics, rerank

__all__ = ["api_router"]

api_router = APIRouter()
api_router.include_router(rerank.router)
api_router.include_router(health.router)
api_router.include_router(metrics.router)
