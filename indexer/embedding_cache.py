"""On-disk embedding cache keyed by model and text hash: re-indexing unchanged items is free.

One SQLite file per embedder key (model, precision, sequence length) under
``<cache_dir>/embeddings/``; rows map ``sha256(text)[:16]`` to the raw float32 (or float16)
bytes of the vector. SQLite (not pickle) because it is safe to read, concurrent-safe, and
incremental: a run that dies half-way keeps what it computed.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["EmbeddingCache", "embed_cached", "text_key"]

_DTYPES = {"float32": np.float32, "float16": np.float16}


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class EmbeddingCache:
    """Vectors of one embedder; ``dtype="float16"`` halves the file at ~1e-3 cosine error."""

    def __init__(self, directory: Path, key: str, dim: int, dtype: str = "float32") -> None:
        if dtype not in _DTYPES:
            raise ValueError(f"cache dtype {dtype!r}: use float32 or float16")
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{key}-{dtype}.sqlite"
        self.dim = dim
        self.dtype = _DTYPES[dtype]
        # The streaming indexer embeds inside the generator the bulk writer drains on its own
        # thread, so the connection is shared across threads; the lock keeps calls one at a time.
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (k BLOB PRIMARY KEY, v BLOB NOT NULL)")
        self._db.commit()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        width = self.dim * np.dtype(self.dtype).itemsize
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT k, v FROM vectors WHERE k IN ({marks})", chunk
                ).fetchall()
            for k, blob in rows:
                if len(blob) == width:  # a vector of another width is stale: recompute
                    found[bytes(k)] = np.frombuffer(blob, dtype=self.dtype).astype(np.float32)
        return found

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        rows = [
            (k, np.asarray(v, dtype=self.dtype).tobytes())
            for k, v in zip(keys, vectors, strict=True)
        ]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors (k, v) VALUES (?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def embed_cached(
    texts: Sequence[str],
    encode: Callable[[Sequence[str]], np.ndarray],
    cache: EmbeddingCache | None,
    dim: int,
    chunk: int = 1024,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts`` (cache first, ``encode`` for the misses). Returns (vectors, hits)."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    keys = [text_key(t) for t in texts]
    found = cache.get_many(keys) if cache is not None else {}
    missing = [i for i, k in enumerate(keys) if k not in found]
    for i, k in enumerate(keys):
        if k in found:
            out[i] = found[k]
    hits = len(texts) - len(missing)
    if on_progress and hits:
        on_progress(hits)
    for start in range(0, len(missing), chunk):
        idx = missing[start : start + chunk]
        vectors = encode([texts[i] for i in idx])
        out[idx] = vectors
        if cache is not None:
            cache.put_many([keys[i] for i in idx], vectors)
        if on_progress:
            on_progress(len(idx))
    return out, hits
