"""Where the hook gets its order from: the sidecar over HTTP, or the same service in process.

Both take the ``POST /v1/rerank`` body (docs/api.md) and return its reply as a dict, or raise
:class:`RerankFailure` with the plugin's fail-open reason (``sidecar_unreachable``,
``sidecar_connect_timeout``, ``sidecar_timeout``, ``sidecar_http_<status>``,
``sidecar_bad_reply``, ``sidecar_io_error``, ``internal_error``), so degraded pages read the
same whichever engine and whichever path served them. No ranking logic lives here; the
in-process backend, which runs the sidecar's own service, is
:class:`reranker.app.inprocess.InProcessReranker` (the hook never imports the app).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import httpx
import orjson

__all__ = ["RerankBackend", "RerankFailure", "SidecarClient"]

log = logging.getLogger("divrank.hook")


class RerankFailure(RuntimeError):
    """Re-ranking did not produce an order; ``reason`` is the plugin's fail-open reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RerankBackend(Protocol):
    def rerank(self, payload: dict[str, Any]) -> dict[str, Any]: ...


class SidecarClient:
    """``POST {url}/v1/rerank`` with the plugin's default timeouts (200 ms connect, 1 s read)."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8600",
        *,
        connect_timeout_s: float = 0.2,
        read_timeout_s: float = 1.0,
        token: str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/v1/rerank"
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._http = http or httpx.Client(timeout=timeout, headers=headers)
        self._deadline_ms = int((connect_timeout_s + read_timeout_s) * 1000)

    def rerank(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post(self.endpoint, content=orjson.dumps(payload))
        except httpx.ConnectTimeout as exc:
            raise RerankFailure(
                "sidecar_connect_timeout", f"no connection to {self.endpoint} in time"
            ) from exc
        except httpx.ConnectError as exc:
            raise RerankFailure(
                "sidecar_unreachable", f"connection to {self.endpoint} refused"
            ) from exc
        except httpx.TimeoutException as exc:
            raise RerankFailure(
                "sidecar_timeout", f"no answer from {self.endpoint} within {self._deadline_ms} ms"
            ) from exc
        except httpx.HTTPError as exc:
            raise RerankFailure(
                "sidecar_io_error", f"call to {self.endpoint} failed: {exc}"
            ) from exc
        if response.status_code != 200:
            raise RerankFailure(
                f"sidecar_http_{response.status_code}",
                f"sidecar answered HTTP {response.status_code}: {response.text[:300]}",
            )
        try:
            reply = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise RerankFailure("sidecar_bad_reply", "sidecar reply is not JSON") from exc
        if not isinstance(reply, dict):
            raise RerankFailure("sidecar_bad_reply", "sidecar reply is not a JSON object")
        return reply

    def close(self) -> None:
        self._http.close()
