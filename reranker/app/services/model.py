"""The fusion weights and the relevance model this process serves, loaded once at start-up
(numpy and LightGBM only, no torch).

Without ``DIVRANK_WEIGHTS_PATH`` the core's hand-set defaults are used. A configured file that
fails to load is reported by ``/readyz`` (503) while requests keep being served with the
defaults, so a bad deploy is visible without taking search down.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reranker.core.relevance_model import RelevanceModel
from reranker.core.weights import DEFAULT_WEIGHTS
from reranker.relevance_io import DEFAULT_RELEVANCE_MODEL, load_relevance_model

__all__ = ["DEFAULT_MODEL_VERSION", "ServedModel", "load_relevance", "load_served_model"]

log = logging.getLogger(__name__)

DEFAULT_MODEL_VERSION = DEFAULT_WEIGHTS.version


@dataclass(frozen=True)
class ServedModel:
    weights: Any | None  # reranker's FusionWeights; None = the core's defaults
    version: str
    error: str | None = None
    relevance: RelevanceModel | None = None  # None: rank by the engine's scores


def load_relevance(path: Path | None, enabled: bool) -> RelevanceModel | None:
    """The learned relevance model, or None when switched off.

    Unlike the weights, a bad file is not served around: it raises ``RelevanceModelError``
    (``divrank serve`` turns it into one line and exit 2), because a sidecar silently ranking
    without it would look healthy and rank worse.
    """
    if not enabled:
        return None
    return load_relevance_model(path or DEFAULT_RELEVANCE_MODEL)


def load_served_model(
    path: Path | None, relevance: RelevanceModel | None = None
) -> ServedModel:
    if path is None:
        return ServedModel(None, DEFAULT_MODEL_VERSION, relevance=relevance)
    try:
        model_io = importlib.import_module("reranker.model_io")  # numpy + safetensors only
        weights = model_io.load_weights(path)
    except Exception as exc:  # any failure: serve defaults, report not-ready
        log.error("cannot load fusion weights from %s: %s", path, exc)
        return ServedModel(None, DEFAULT_MODEL_VERSION, f"{type(exc).__name__}: {exc}",
                           relevance)  # fmt: skip
    return ServedModel(weights, str(getattr(weights, "version", path.stem)), None, relevance)
