"""Prometheus metrics of the sidecar, and the ASGI middleware that counts every HTTP answer.

With several uvicorn workers, each worker is its own process: ``divrank serve`` then points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory and ``/metrics`` aggregates all workers.
Label values come from small fixed sets (route templates, strategy names, reason names), so the
series count stays bounded whatever clients send.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CACHE_LOOKUPS",
    "DEGRADED",
    "ERRORS",
    "HTTP_REQUESTS",
    "PRELOADED_VECTORS",
    "RERANK_CANDIDATES",
    "RERANK_LATENCY",
    "RERANK_REQUESTS",
    "MetricsMiddleware",
    "render",
]

HTTP_REQUESTS = Counter(
    "divrank_http_requests", "HTTP requests answered", ["route", "method", "status"]
)
ERRORS = Counter("divrank_errors", "Answers with status >= 400, by status", ["route", "status"])
RERANK_REQUESTS = Counter("divrank_rerank_requests", "Successful re-rankings", ["strategy"])
RERANK_LATENCY = Histogram(
    "divrank_rerank_latency_seconds",
    "Time from parsed request to response model (look-ups + ranking), by strategy",
    ["strategy"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
)
RERANK_CANDIDATES = Histogram(
    "divrank_rerank_candidates",
    "Candidates per re-rank request",
    buckets=(10, 50, 100, 200, 500, 1000, 2000),
)
DEGRADED = Counter(
    "divrank_degraded",
    "Requests answered with less information than asked for, by reason",
    ["reason"],
)
CACHE_LOOKUPS = Counter(
    "divrank_cache_lookups", "Look-up cache hits and misses", ["cache", "result"]
)

# a counter, not a gauge: it sums over workers in multi-process mode
PRELOADED_VECTORS = Counter(
    "divrank_preloaded_vectors", "Item vectors read ahead into the cache, by index", ["index"]
)


def render() -> tuple[bytes, str]:
    """Exposition text for ``/metrics`` (all workers' series in multi-process mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts each HTTP answer by route template (never the raw path) and status.

    ``known_paths`` names answers given before routing (e.g. the 413 of the size check).
    """

    def __init__(self, app: ASGIApp, known_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.known_paths = known_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # stays 500 if the app raises before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route is None:
                path = scope.get("path", "")
                route = path if path in self.known_paths else "unmatched"
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            if status >= 400:
                ERRORS.labels(route, str(status)).inc()
