"""A dataset's catalog into the real engine and into vectors, with the indexer's own code.

The catalog goes through the indexer (validation, embedding cache, mapping, versioned alias),
so the evaluated engine holds exactly what ``divrank index`` would write. The item table's
vectors come from the same embedding cache keyed by the same texts, so they equal the
indexed ones without reading 40k vectors back over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from config.settings import Settings
from evaluation.datasets import Catalog
from indexer.alias_swap import index_meta, serving_index
from indexer.catalog import RawItem
from indexer.embedding_cache import EmbeddingCache, embed_cached
from indexer.embeddings import Embedder
from indexer.index_run import IndexOptions, run_index
from indexer.items import validate_items
from indexer.rejects import RejectLog

__all__ = ["CachedEncoder", "ensure_indexed", "raw_items"]

SOURCE_TAG = "divrank-eval"


def raw_items(catalog: Catalog, with_prior: bool = False) -> Iterator[RawItem]:
    """Catalog rows in the indexer's input shape; the first category is the indexed path.
    ``with_prior``: index ``catalog.popularity`` as the item prior (only where it holds no
    judgments: replayed logs)."""
    for line, item in enumerate(catalog.ids, start=1):
        cats = catalog.categories[line - 1]
        yield RawItem(
            line=line,
            id=item,
            title=catalog.titles[line - 1],
            description=catalog.descriptions[line - 1] or None,
            category=cats[0] if cats else None,
            brand=catalog.brands[line - 1],
            popularity=float(catalog.popularity[line - 1]) if with_prior else None,
        )


class CachedEncoder:
    """The indexer's embedder behind its on-disk cache: one model load, cache hits are free."""

    def __init__(self, settings: Settings) -> None:
        self.embedder = Embedder(settings.embedding_model, "auto", settings.embedding_batch_size)
        self.cache = EmbeddingCache(settings.cache_dir / "embeddings", self.embedder.key,
                                    self.embedder.dim)  # fmt: skip

    @property
    def key(self) -> str:
        return self.embedder.key

    def __call__(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors, _ = embed_cached(list(texts), self.embedder.encode, self.cache, self.embedder.dim)
        return vectors

    def catalog_vectors(self, catalog: Catalog) -> npt.NDArray[np.float32]:
        """Vectors of the texts the indexer embeds for these items (``title. description``)."""
        docs = list(validate_items(raw_items(catalog), RejectLog(None)))
        if len(docs) != len(catalog):
            raise ValueError(f"the indexer rejects {len(catalog) - len(docs)} catalog rows")
        return self([doc.text for doc in docs])


def ensure_indexed(
    client: Any, catalog: Catalog, alias: str, settings: Settings, dataset: str,
    force: bool = False, progress: bool = True, source_vectors: bool = True,
    with_prior: bool = False, source_key: str = "", storage: str = "float32",
) -> str:  # fmt: skip
    """The index serving ``alias``, (re)built when missing, of another size, written from
    other data files (``source_key``, see ``Dataset``), or ``force``.
    ``source_vectors`` (default): vectors in ``_source`` too, for OpenSearch's native MMR;
    ``storage``: as ``divrank index --storage``."""
    tag = f"{SOURCE_TAG}:{dataset}" + (f":{source_key}" if source_key else "")
    current = serving_index(client, alias)
    if current is not None and not force:
        count = int(client.count(index=alias)["count"])
        if count == len(catalog) and index_meta(client, current).get("source") == tag:
            return current
    opts = IndexOptions(
        alias=alias,
        model=settings.embedding_model,
        batch_size=settings.embedding_batch_size,
        cache_dir=settings.cache_dir,
        progress=progress,
        source=tag,
        keep=1,
        source_vectors=source_vectors,
        storage=storage,
    )
    run_index(client, raw_items(catalog, with_prior), opts)
    index = serving_index(client, alias)
    if index is None:
        raise RuntimeError(f"indexing {dataset} did not publish alias {alias}")
    return index
