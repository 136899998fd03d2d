"""Embedder precision, normalisation, and the on-disk cache."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding_cache import EmbeddingCache, embed_cached
from indexer.embeddings import Embedder, EmbeddingError, bf16_supported

TEXTS = [
    "HP toner cartridge black",
    "Simpson Strong-Tie 12-Gauge Angle",
    "wireless noise cancelling headphones",
    "ceramic wall tile white 3 x 6 in.",
]


@pytest.fixture(scope="module")
def fp32() -> Embedder:
    return Embedder(precision="fp32")


def test_default_model_is_offline_minilm(fp32: Embedder) -> None:
    vectors = fp32.encode(TEXTS)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] < 0.5  # toner and a steel angle are not alike


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_fast_precisions_stay_close_to_fp32(fp32: Embedder, precision: str) -> None:
    if precision == "bf16" and not bf16_supported():
        assert Embedder(precision="auto").precision == "fp32"  # auto never picks slow bf16
        return
    fast = Embedder(precision=precision)
    cos = np.sum(fp32.encode(TEXTS) * fast.encode(TEXTS), axis=1)
    floor = 0.99 if precision == "bf16" else 0.9
    assert cos.min() > floor, cos
    assert fast.key != fp32.key  # different vectors, different cache namespace


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(EmbeddingError, match="cannot load embedding model"):
        Embedder("/nonexistent/model-dir")
    with pytest.raises(EmbeddingError, match="precision"):
        Embedder(precision="fp8")


def test_cache_makes_the_second_pass_free(tmp_path: Path) -> None:
    calls: list[int] = []

    def encode(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        rng = np.random.default_rng(len(texts))
        return rng.standard_normal((len(texts), 8)).astype(np.float32)

    cache = EmbeddingCache(tmp_path, "fake-model", 8)
    first, hits1 = embed_cached(TEXTS, encode, cache, 8)
    second, hits2 = embed_cached([*TEXTS, "new text"], encode, cache, 8)
    assert (hits1, hits2) == (0, 4)
    assert calls == [4, 1]
    assert np.array_equal(first, second[:4])
    cache.close()
    # plain SQLite rows of raw float32 bytes, not pickles
    with sqlite3.connect(cache.path) as db:
        blob = db.execute("SELECT v FROM vectors LIMIT 1").fetchone()[0]
    assert len(blob) == 8 * 4


def test_float16_cache_halves_the_bytes(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "m", 4, dtype="float16")
    vec = np.array([[0.5, -0.25, 0.125, 0.1]], dtype=np.float32)
    cache.put_many([b"k"], vec)
    got = cache.get_many([b"k"])[b"k"]
    assert got.dtype == np.float32 and np.allclose(got, vec[0], atol=1e-3)
