"""The sidecar's one OpenSearch client: created on first use, skipped for a while after a failure.

Look-ups are an optional refinement (profiles, missing vectors), so an unreachable engine must
cost a request at most one short timeout, and then nothing for ``lookup_backoff_s``: requests
keep flowing with what they carry, counted as degraded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from config.settings import Settings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = ["EngineConnection", "LookupUnavailable"]

log = logging.getLogger(__name__)


class LookupUnavailable(RuntimeError):
    """OpenSearch did not answer (or look-ups are backing off after a recent failure)."""


class EngineConnection:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._url = settings.opensearch_url
        self._auth = (
            (settings.opensearch_user, settings.opensearch_password or "")
            if settings.opensearch_user
            else None
        )
        self._timeout = settings.lookup_timeout_s
        self._backoff = settings.lookup_backoff_s
        self._clock = clock
        self._client: OpenSearch | None = None
        self._lock = threading.Lock()
        self._failed_at: float | None = None

    @property
    def client(self) -> OpenSearch:
        with self._lock:
            if self._client is None:
                from opensearchpy import OpenSearch  # heavy import, only when first needed

                self._client = OpenSearch(
                    hosts=[self._url],
                    http_auth=self._auth,
                    timeout=self._timeout,
                    max_retries=0,
                    retry_on_timeout=False,
                )
            return self._client

    def backing_off(self) -> bool:
        failed_at = self._failed_at
        return failed_at is not None and self._clock() - failed_at < self._backoff

    def call(self, operation: Callable[[OpenSearch], Any]) -> Any:
        """Run one client operation; connection trouble becomes ``LookupUnavailable``.

        A 404 (``NotFoundError``) is an answer, not an outage: it is re-raised unchanged.
        """
        from opensearchpy import ConnectionError as OSConnectionError
        from opensearchpy import NotFoundError, TransportError

        if self.backing_off():
            raise LookupUnavailable("backing off after a recent failure")
        try:
            result = operation(self.client)
        except NotFoundError:
            self._failed_at = None
            raise
        except OSConnectionError as exc:  # refused, reset, timed out: back off
            self._failed_at = self._clock()
            log.warning("opensearch unreachable: %s", type(exc).__name__)
            raise LookupUnavailable(type(exc).__name__) from exc
        except TransportError as exc:  # it answered with an error: no back-off
            log.warning("opensearch look-up refused: status %s", exc.status_code)
            raise LookupUnavailable(f"status {exc.status_code}") from exc
        self._failed_at = None
        return result

    def ping(self) -> bool:
        """True when the engine answers now (ignores the back-off: readiness wants the truth)."""
        try:
            return bool(self.client.ping())
        except Exception:  # ping must never raise into /readyz
            return False

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
