"""The smallest engine client the hook needs: ``search(index=, body=)`` over plain HTTP.

The sidecar's ``POST /v1/search`` proxy uses it so the sidecar needs no engine-specific Python
client: Elasticsearch and OpenSearch both answer ``POST /{index}/_search`` with the same JSON.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import orjson

__all__ = ["EngineHttpClient", "EngineHttpError"]


class EngineHttpError(RuntimeError):
    """The engine refused the search (``status`` set) or could not be reached (``status`` None)."""

    def __init__(self, status: int | None, message: str, error: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class EngineHttpClient:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            timeout=timeout_s, auth=auth, headers={"Content-Type": "application/json"}
        )

    def search(self, *, index: str, body: dict[str, Any]) -> dict[str, Any]:
        target = f"{self.url}/{quote(index, safe=',*')}/_search"
        try:
            content = orjson.dumps(body)
        except TypeError:  # integers beyond 64 bits: valid JSON, the engine judges them
            content = json.dumps(body).encode()
        try:
            response = self._http.post(target, content=content)
        except httpx.HTTPError as exc:
            raise EngineHttpError(None, f"engine at {self.url} unreachable: {exc}") from exc
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict):
            error = payload.get("error") if isinstance(payload, dict) else response.text[:500]
            raise EngineHttpError(
                response.status_code, f"engine answered {response.status_code}", error
            )
        return payload

    def close(self) -> None:
        self._http.close()
