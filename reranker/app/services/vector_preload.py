"""Keeps one alias's item vectors in the sidecar's cache, so windows sent without vectors
(``send_embeddings: false``: a smaller body, no vector fetch in the engine) never wait on a
look-up: read at start, read again whenever the alias moves to a new index (a re-index), and
retried after ``lookup_backoff_s`` while the engine does not answer."""

from __future__ import annotations

import logging
import threading
import time

from reranker.app.metrics import PRELOADED_VECTORS
from reranker.app.services.opensearch import LookupUnavailable
from reranker.app.services.vectors import VectorStore

__all__ = ["VectorPreloader"]

log = logging.getLogger(__name__)


class VectorPreloader:
    def __init__(
        self, store: VectorStore, alias: str, refresh_s: float, retry_s: float
    ) -> None:
        self._store = store
        self._alias = alias
        self._refresh_s = max(refresh_s, 1.0)
        self._retry_s = max(retry_s, 1.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loaded: tuple[str, ...] | None = None
        self.status = "loading"  # what /readyz shows under "vectors"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="divrank-vector-preload",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def load_once(self) -> float:
        """One check: (re)load when the alias points somewhere new. Returns the wait until the
        next check."""
        try:
            concrete = self._store.resolve(self._alias)
            if not concrete:
                self.status = f"alias {self._alias} not found"
                return self._retry_s
            if concrete != self._loaded:
                started = time.monotonic()
                count = self._store.preload(self._alias)
                self._loaded = concrete
                PRELOADED_VECTORS.labels(",".join(concrete)).inc(count)
                log.info("preloaded %d item vectors of %s (%s) in %.1f s", count, self._alias,
                         ",".join(concrete), time.monotonic() - started)  # fmt: skip
            self.status = "ok"
            return self._refresh_s
        except LookupUnavailable as exc:
            if self._loaded is None:
                self.status = f"loading: engine unavailable ({exc})"
            return self._retry_s

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.load_once()
            self._stop.wait(wait)
