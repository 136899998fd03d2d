"""Exception handlers: bad input is a 422 naming the field, anything else a bare 500.

No handler ever puts a traceback, an exception message from a library, or request content
into a 5xx answer; the traceback goes to the server log only.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from reranker.app.services.reranking import CoreRejected

__all__ = ["install_error_handlers"]

log = logging.getLogger("divrank.sidecar")


async def _core_rejected(_: Request, exc: Exception) -> JSONResponse:
    detail = [{"type": "rejected_by_core", "loc": ["body"], "msg": str(exc)}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CoreRejected, _core_rejected)
    app.add_exception_handler(Exception, _unexpected)
