"""Sidecars on real loopback sockets (uvicorn in a thread) and request builders for them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest

from config.settings import Settings
from reranker.app.embedded import EmbeddedSidecar, embedded_sidecar

TOKEN = "s3cret-token-for-tests"
MAX_CANDIDATES = 50
MAX_DIMENSION = 64
MAX_BODY_BYTES = 64 * 1024

Payload = dict[str, Any]


def sidecar_settings(**overrides: Any) -> Settings:
    """Small limits so every limit is reachable with small bodies; no OpenSearch by default."""
    base: dict[str, Any] = {
        "sidecar_lookups": False,
        "max_candidates": MAX_CANDIDATES,
        "max_dimension": MAX_DIMENSION,
        "max_body_bytes": MAX_BODY_BYTES,
        "token": None,
    }
    base.update(overrides)
    return Settings(**base)


@pytest.fixture(scope="session")
def sidecar() -> Iterator[EmbeddedSidecar]:
    with embedded_sidecar(sidecar_settings()) as running:
        yield running


@pytest.fixture(scope="session")
def client(sidecar: EmbeddedSidecar) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sidecar.url, timeout=10.0) as http:
        yield http


@pytest.fixture(scope="session")
def token_client() -> Iterator[httpx.Client]:
    with (
        embedded_sidecar(sidecar_settings(token=TOKEN)) as running,
        httpx.Client(base_url=running.url, timeout=10.0) as http,
    ):
        yield http


def build_payload(n: int = 6, dim: int = 8, k: int = 3, seed: int = 0, **knobs: Any) -> Payload:
    """A valid request: n candidates with unit embeddings, two brands, three categories."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    candidates = [
        {
            "id": f"item-{i}",
            "score": float(n - i),
            "embedding": [round(float(x), 6) for x in vectors[i]],
            "category": ["printing/toner", "computers/laptops", "audio/headphones"][i % 3],
            "brand": ["hp", "acme"][i % 2],
        }
        for i in range(n)
    ]
    return {"query": "toner", "candidates": candidates, "k": k, "knobs": knobs}


@dataclass(frozen=True)
class Kit:
    """What tests need from here (test modules cannot import conftest)."""

    max_candidates: int = MAX_CANDIDATES
    max_dimension: int = MAX_DIMENSION
    max_body_bytes: int = MAX_BODY_BYTES
    token: str = TOKEN
    payload: Callable[..., Payload] = build_payload
    settings: Callable[..., Settings] = sidecar_settings


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit()
