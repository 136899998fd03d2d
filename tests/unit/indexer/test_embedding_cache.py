"""The embedding cache is read and written from the bulk writer's thread too (streaming index)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from indexer.embedding_cache import EmbeddingCache, embed_cached


def test_cache_works_from_another_thread(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "model", dim=3)
    calls: list[int] = []

    def encode(texts: object) -> np.ndarray:
        calls.append(len(texts))  # type: ignore[arg-type]
        return np.ones((len(texts), 3), dtype=np.float32)  # type: ignore[arg-type]

    errors: list[BaseException] = []
    results: list[tuple[np.ndarray, int]] = []

    def work() -> None:
        try:
            results.append(embed_cached(["a", "b"], encode, cache, 3))
            results.append(embed_cached(["a", "b", "c"], encode, cache, 3))
        except BaseException as exc:  # recorded and asserted below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert not errors, errors
    assert [hits for _, hits in results] == [0, 2] and calls == [2, 1]
    assert len(cache) == 3  # and back on the creating thread
    cache.close()
