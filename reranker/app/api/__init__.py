"""HTTP layer of the sidecar: dependencies and routes."""

from reranker.app.api.routes import api_router

__all__ = ["api_router"]
