"""Catalog rows → validated items → embeddings → a new published version of the items alias.

The order matters for safety: every check that can fail without the engine (field mapping,
model, rejects over the threshold) runs before the new index is created, so a bad catalog never
leaves anything behind.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from indexer.catalog import RawItem
from indexer.embedding_cache import EmbeddingCache, embed_cached
from indexer.embeddings import Embedder
from indexer.engine_dialect import SearchClient, dialect_of
from indexer.items import ItemDoc, validate_items
from indexer.projection import byte_scale, fit_pca, to_bytes
from indexer.rejects import Reason, RejectLog, RejectSummary
from indexer.versioned_load import LoadResult, load_versioned

__all__ = ["IndexOptions", "IndexReport", "IndexRunError", "RejectsExceeded", "run_index"]


class IndexRunError(RuntimeError):
    """The run stopped before publishing; the alias still serves what it served before."""


class RejectsExceeded(IndexRunError):
    def __init__(self, summary: RejectSummary, limit: float) -> None:
        super().__init__(
            f"{summary.describe()}: above --max-reject-ratio {limit:.1%}; alias not moved"
        )
        self.summary = summary


@dataclass
class IndexOptions:
    alias: str
    model: str = "all-MiniLM-L6-v2"
    precision: str = "auto"
    batch_size: int = 32
    storage: str = "float32"
    hnsw_m: int = 16
    ef_construction: int = 100
    pca_dim: int | None = None
    keep: int = 2
    max_reject_ratio: float = 0.05
    rejects_path: Path | None = None
    chunk_size: int = 500
    threads: int = 2
    limit: int | None = None
    embed: bool = True
    use_cache: bool = True
    cache_dir: Path = Path(".cache")
    progress: bool = True
    source: str = ""
    # vectors in _source too (OpenSearch's native MMR reads them there); None = engine default
    source_vectors: bool | None = None


@dataclass
class IndexReport:
    load: LoadResult
    rejects: RejectSummary
    accepted: int
    dim: int
    cache_hits: int = 0
    embedded: int = 0
    embed_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _check(rejects: RejectLog, total: int, limit: float) -> None:
    summary = RejectSummary(
        total=total, rejected=rejects.rejected, by_reason=dict(rejects.counts), path=rejects.path
    )
    if total and summary.ratio > limit:
        rejects.close()
        raise RejectsExceeded(summary, limit)


def _embed(items: list[ItemDoc], opts: IndexOptions, embedder: Embedder) -> tuple[int, int, float]:
    todo = [i for i, item in enumerate(items) if item.embedding is None]
    if not todo:
        return 0, 0, 0.0
    texts = [items[i].text for i in todo]
    cache = None
    if opts.use_cache:
        cache = EmbeddingCache(opts.cache_dir / "embeddings", embedder.key, embedder.dim)
    started = time.perf_counter()
    with tqdm(
        total=len(texts), desc="embed", unit="items", disable=not opts.progress, mininterval=1.0
    ) as bar:
        vectors, hits = embed_cached(
            texts, embedder.encode, cache, embedder.dim, on_progress=bar.update
        )
    seconds = time.perf_counter() - started
    if cache is not None:
        cache.close()
    for i, vec in zip(todo, vectors, strict=True):
        items[i].embedding = vec
    return hits, len(texts) - hits, seconds


def run_index(
    client: SearchClient,
    rows: Iterable[RawItem],
    opts: IndexOptions,
    say: Callable[[str], None] = lambda _: None,
    on_created: Callable[[str], None] | None = None,
) -> IndexReport:
    rejects = RejectLog(opts.rejects_path)
    embedder = Embedder(opts.model, opts.precision, opts.batch_size) if opts.embed else None
    limited = itertools.islice(rows, opts.limit) if opts.limit else rows
    total = 0

    def counted(stream: Iterable[RawItem]) -> Iterator[RawItem]:
        nonlocal total
        for row in stream:
            total += 1
            yield row

    dim = embedder.dim if embedder else None
    items = list(validate_items(counted(limited), rejects, dim=dim))
    if embedder is None:
        items, dim = _require_vectors(items, rejects)
    if total == 0:
        raise IndexRunError("the catalog has no rows")
    _check(rejects, total, opts.max_reject_ratio)
    if not items:
        raise IndexRunError(f"no valid rows: {rejects.summary(total).describe()}")
    if dim is None:
        raise IndexRunError("no vectors: pass a model or an embedding column")
    say(f"{len(items)} valid items of {total} rows")

    hits = embedded = 0
    embed_seconds = 0.0
    if embedder is not None:
        hits, embedded, embed_seconds = _embed(items, opts, embedder)
        rate = f", {embedded / embed_seconds:.0f} items/s" if embedded and embed_seconds else ""
        say(f"embedded {embedded} items ({hits} from cache{rate}) with {embedder.key}")
    matrix = np.vstack([item.embedding for item in items if item.embedding is not None])

    meta: dict[str, Any] = {
        "kind": "items",
        "model": opts.model if embedder else "precomputed",
        "precision": embedder.precision if embedder else None,
        "storage": opts.storage,
        "source": opts.source,
    }
    if opts.pca_dim:
        projection = fit_pca(matrix, opts.pca_dim)
        matrix = projection.apply(matrix)
        dim = opts.pca_dim
        meta["pca"] = {"dim": dim, "explained_variance": projection.explained_variance}
        say(f"PCA to {dim} dims keeps {projection.explained_variance:.1%} of the variance")
    else:
        projection = None
    if opts.storage == "byte":
        scale = byte_scale(matrix)
        matrix = to_bytes(matrix, scale)
        meta["byte_scale"] = scale

    body = dialect_of(client).item_index_body(
        dim, meta, storage=opts.storage, m=opts.hnsw_m, ef_construction=opts.ef_construction,
        source_vectors=opts.source_vectors,
    )  # fmt: skip

    def docs() -> Iterator[tuple[str, dict[str, Any]]]:
        for item, vec in zip(items, matrix, strict=True):
            yield item.id, item.source(vec)

    def check(engine_rejected: int) -> None:
        _check(rejects, total, opts.max_reject_ratio)

    def created(index: str) -> None:
        # Saved before the swap: whoever queries the new version can project queries alike.
        if projection is not None:
            projection.save(opts.cache_dir / "projections" / index)
        if on_created:
            on_created(index)

    load = load_versioned(
        client,
        opts.alias,
        body,
        docs(),
        total=len(items),
        vector_field="embedding",
        rejects=rejects,
        keep=opts.keep,
        chunk_size=opts.chunk_size,
        threads=opts.threads,
        progress=opts.progress,
        check_rejects=check,
        on_created=created,
    )
    return IndexReport(
        load=load,
        rejects=rejects.summary(total),
        accepted=load.written,
        dim=dim,
        cache_hits=hits,
        embedded=embedded,
        embed_seconds=embed_seconds,
    )


def _require_vectors(items: list[ItemDoc], rejects: RejectLog) -> tuple[list[ItemDoc], int | None]:
    """Without a model every row needs a vector, and the most common size is the right one."""
    sizes = Counter(int(item.embedding.shape[0]) for item in items if item.embedding is not None)
    dim = sizes.most_common(1)[0][0] if sizes else None
    kept = []
    for item in items:
        if item.embedding is None:
            rejects.add(
                item.line,
                item.id,
                Reason.BAD_VECTOR,
                "embedding: missing (embedding is off, so every row needs a vector)",
            )
        elif item.embedding.shape[0] != dim:
            rejects.add(
                item.line,
                item.id,
                Reason.BAD_VECTOR,
                f"embedding: expected {dim} numbers, got {item.embedding.shape[0]}",
            )
        else:
            kept.append(item)
    return kept, dim
