"""What one worker process holds for its lifetime: settings, the served model, the look-ups."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from config.settings import Settings
from reranker.app.services.cache import BoundedCache
from reranker.app.services.model import ServedModel, load_relevance, load_served_model
from reranker.app.services.opensearch import EngineConnection
from reranker.app.services.profiles import ProfileStore
from reranker.app.services.reranking import Reranker
from reranker.app.services.vector_preload import VectorPreloader
from reranker.app.services.vectors import VectorStore

__all__ = ["PING_CACHE_S", "SidecarState", "build_state"]

PING_CACHE_S = 5.0


@dataclass
class SidecarState:
    settings: Settings
    model: ServedModel
    connection: EngineConnection | None  # None: look-ups switched off
    reranker: Reranker
    preloader: VectorPreloader | None = None  # DIVRANK_PRELOAD_VECTORS
    _ping: tuple[float, bool] | None = field(default=None, repr=False)

    def readiness(self) -> dict[str, str]:
        """Each check: "ok", "disabled" or what is wrong. Pings are cached a few seconds."""
        checks = {"weights": "ok" if self.model.error is None else self.model.error,
                  "relevance": "disabled" if self.model.relevance is None else "ok"}  # fmt: skip
        checks["vectors"] = "disabled" if self.preloader is None else self.preloader.status
        if self.connection is None:
            checks["opensearch"] = "disabled"
            return checks
        now = time.monotonic()
        if self._ping is None or now - self._ping[0] > PING_CACHE_S:
            self._ping = (now, self.connection.ping())
        checks["opensearch"] = "ok" if self._ping[1] else "unreachable"
        return checks

    def start(self) -> None:
        """Background work the worker runs while it serves (the vector preload)."""
        if self.preloader is not None:
            self.preloader.start()

    def close(self) -> None:
        if self.preloader is not None:
            self.preloader.stop()
        if self.connection is not None:
            self.connection.close()


def build_state(settings: Settings) -> SidecarState:
    """Wire the services; nothing here touches the network (the client is created lazily).
    Raises ``RelevanceModelError`` for a bad relevance model file."""
    relevance = load_relevance(settings.relevance_model, settings.relevance)
    model = load_served_model(settings.weights_path, relevance)
    if not settings.sidecar_lookups:
        return SidecarState(settings, model, None, Reranker(model, None, None))
    connection = EngineConnection(settings)
    profiles = ProfileStore(
        connection,
        settings.profiles_alias,
        BoundedCache(settings.profile_cache_size, settings.profile_cache_ttl_s),
    )
    vectors = VectorStore(
        connection, BoundedCache(settings.vector_cache_size), settings.alias_refresh_s
    )
    preloader = None
    if settings.preload_vectors:
        preloader = VectorPreloader(
            vectors, settings.preload_vectors, settings.alias_refresh_s, settings.lookup_backoff_s
        )
    return SidecarState(
        settings, model, connection, Reranker(model, profiles, vectors), preloader
    )
