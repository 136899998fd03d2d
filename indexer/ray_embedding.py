"""Embedding on a Ray cluster: each window of texts is a Ray Data job over an actor pool of
encoders, and the vectors stream back to the indexer's bulk writer in the catalog's order.

Why actors: loading the model is the expensive part, so each actor loads it once and then
encodes batch after batch. Why windows (one job per ``IndexOptions.stream_batch`` texts): the
driver keeps memory bounded however large the catalog is, as the local path does. Ray is an
optional extra (``pip install '.[distributed]'``); nothing here is imported without
``--ray-address``.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

import numpy as np

from indexer.embeddings import EmbeddingError

__all__ = ["RayEncoder"]


class _Encoder:
    """One actor: a loaded model (same name and precision as the driver's) encoding batches."""

    def __init__(self, model: str, precision: str, batch_size: int) -> None:
        from indexer.embeddings import Embedder

        self.embedder = Embedder(model, precision, batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        return {"i": batch["i"], "vector": vectors}


def _reachable(address: str) -> None:
    """Fail fast with the address named: ``ray.init`` retries a closed port for minutes."""
    if ":" not in address:  # "auto" / "local": Ray resolves these itself
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise EmbeddingError(f"no Ray cluster at {address}: {exc}") from None


class RayEncoder:
    """``encode(texts)`` as a Ray Data job on the cluster at ``address``."""

    def __init__(
        self, address: str, model: str, precision: str, batch_size: int, workers: int, dim: int
    ) -> None:
        try:
            import ray
        except ImportError:
            raise EmbeddingError(
                "--ray-address needs Ray: pip install '.[distributed]'"
            ) from None
        self.model, self.precision, self.batch_size = model, precision, batch_size
        self.workers, self.dim = workers, dim
        if not ray.is_initialized():
            _reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise EmbeddingError(f"no Ray cluster at {address}: {exc}") from None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import ray.data

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        rows: list[dict[str, Any]] = [{"i": i, "text": t} for i, t in enumerate(texts)]
        dataset = ray.data.from_items(rows).map_batches(
            _Encoder,
            fn_constructor_kwargs={
                "model": self.model, "precision": self.precision, "batch_size": self.batch_size,
            },
            concurrency=self.workers,
            num_cpus=1,
            batch_size=max(self.batch_size * 8, 64),
            batch_format="numpy",
        )
        seen = 0
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            idx = np.asarray(batch["i"], dtype=np.int64)
            out[idx] = np.asarray(batch["vector"], dtype=np.float32)
            seen += len(idx)
        if seen != len(texts):
            raise EmbeddingError(f"the Ray job returned {seen} vectors for {len(texts)} texts")
        return out
