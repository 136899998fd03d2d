"""Refuse oversized request bodies (413) before anything reads or parses them.

A declared ``Content-Length`` above the limit is refused without parsing; a chunked body is
counted as it streams in and cut off at the limit. Both answers are JSON, like every other
error of the API (FastAPI's own ``max_body_size`` answers in plain text).

Before answering, up to ``DRAIN_BYTES`` of the rest of the body are read and dropped: a
server that answers and closes while the client is still sending makes the client's kernel
see a reset, which can destroy the 413 before the client reads it. Beyond that budget the
connection is simply closed.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DRAIN_BYTES", "BodyLimitMiddleware"]

DRAIN_BYTES = 1024 * 1024


def _too_large(limit: int) -> str:
    return f"request body exceeds {limit} bytes (DIVRANK_MAX_BODY_BYTES)"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            if int(declared) <= self.limit + DRAIN_BYTES:
                await _drain(receive, self.limit + DRAIN_BYTES)
            response = JSONResponse({"detail": _too_large(self.limit)}, status_code=413)
            await response(scope, receive, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    if message.get("more_body", False):
                        await _drain(receive, DRAIN_BYTES)
                    # An HTTPException, so FastAPI's handler turns it into a JSON 413.
                    raise HTTPException(413, _too_large(self.limit))
            return message

        await self.app(scope, counting_receive, send)


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop body chunks until the body ends or ``budget`` bytes have gone by."""
    dropped = 0
    while dropped <= budget:
        message = await receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
