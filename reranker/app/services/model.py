"""The fusion weights this process serves, loaded once at start-up (numpy only, no torch).

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

from reranker.core.weights import DEFAULT_WEIGHTS

__all__ = ["DEFAULT_MODEL_VERSION", "ServedModel", "load_served_model"]

log = logging.getLogger(__name__)

DEFAULT_MODEL_VERSION = DEFAULT_WEIGHTS.version


@dataclass(frozen=True)
class ServedModel:
    weights: Any | None  # reranker's FusionWeights; None = the core's defaults
    version: str
    error: str | None = None


def load_served_model(path: Path | None) -> ServedModel:
    if path is None:
        return ServedModel(None, DEFAULT_MODEL_VERSION)
    try:
        model_io = importlib.import_module("reranker.model_io")  # numpy + safetensors only
        weights = model_io.load_weights(path)
    except Exception as exc:  # any failure: serve defaults, report not-ready
        log.error("cannot load fusion weights from %s: %s", path, exc)
        return ServedModel(None, DEFAULT_MODEL_VERSION, f"{type(exc).__name__}: {exc}")
    return ServedModel(weights, str(getattr(weights, "version", path.stem)))
