"""The sidecar's re-ranking service called in process, as a backend of the client-side hook.

It implements :class:`reranker.hook.backends.RerankBackend` with the sidecar's own validation,
translation and core, so the hook (which never imports the app) can run without an HTTP hop:
``divrank_search(client, index, body, reranker=InProcessReranker.from_settings())``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from reranker.app.services.reranking import Reranker
from reranker.hook.backends import RerankFailure

__all__ = ["InProcessReranker"]

log = logging.getLogger("divrank.hook")


class InProcessReranker:
    """The sidecar's service called directly: same validation, translation and core."""

    def __init__(self, reranker: Reranker, max_candidates: int = 1000, max_dimension: int = 4096):
        self._reranker = reranker
        self._max_candidates = max_candidates
        self._max_dimension = max_dimension

    @classmethod
    def from_settings(cls, settings: Any = None) -> InProcessReranker:
        """A service built like the sidecar's (weights, look-ups) from ``Settings``."""
        from config.settings import get_settings
        from reranker.app.state import build_state

        settings = settings or get_settings()
        state = build_state(settings)
        return cls(state.reranker, settings.max_candidates, settings.max_dimension)

    def rerank(self, payload: dict[str, Any]) -> dict[str, Any]:
        from fastapi.exceptions import RequestValidationError

        from reranker.app.schemas import Limits
        from reranker.app.services.reranking import CoreRejected
        from reranker.app.validation import parse_rerank_request

        limits = Limits(max_candidates=self._max_candidates, max_dimension=self._max_dimension)
        try:
            request = parse_rerank_request(orjson.dumps(payload), limits)
            response = self._reranker(request)
        except (RequestValidationError, CoreRejected) as exc:
            raise RerankFailure("sidecar_http_422", f"re-rank request rejected: {exc}") from exc
        except Exception as exc:  # fail open on a bug, as the plugin does on a 500
            log.exception("in-process re-rank failed")
            raise RerankFailure("internal_error", f"re-rank failed: {type(exc).__name__}") from exc
        return response.model_dump(exclude_none=True)
