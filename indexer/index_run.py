"""Catalog rows → validated items → embeddings → a new published version of the items alias.

Streaming, so memory stays bounded whatever the catalog size: rows are read, validated,
embedded and written in batches (``IndexOptions.stream_batch`` items); only the ids seen so
far (duplicate check) grow with the catalog. PCA and the byte scale are fitted on the first
``FIT_ROWS`` vectors. When those first batches already hold the whole catalog, every check
that can fail without the engine (rejects over the threshold, no valid rows) runs before the
new index is created; for a longer catalog the reject threshold is checked again before the
swap, and a failure deletes the new version, so the alias never moves on a bad catalog.

``--ray-address`` sends the embedding of each window of texts to a Ray Data job
(:mod:`indexer.ray_embedding`); the cache, validation and the bulk writer stay here.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
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
from indexer.projection import Projection, byte_scale, fit_pca, to_bytes
from indexer.rejects import Reason, RejectLog, RejectSummary
from indexer.versioned_load import LoadResult, load_versioned

__all__ = [
    "FIT_ROWS",
    "IndexOptions",
    "IndexReport",
    "IndexRunError",
    "RejectsExceeded",
    "run_index",
]

# Vectors that fit PCA and the byte scale (fit_pca samples at most this many anyway).
FIT_ROWS = 20_000


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
    shards: int = 1
    replicas: int = 0
    stream_batch: int = 1000  # items read, embedded and written together
    ray_address: str | None = None  # embed on this Ray cluster (indexer.ray_embedding)
    ray_workers: int = 2  # encoder actors


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
        total=total, rejected=rejects.rejected, by_reason=dict(rejects.counts), path=rejects.path,
        first=rejects.first,
    )  # fmt: skip
    if total and summary.ratio > limit:
        rejects.close()
        raise RejectsExceeded(summary, limit)


@dataclass
class _EmbedStats:
    hits: int = 0
    embedded: int = 0
    seconds: float = 0.0


class _Vectors:
    """Gives each batch its vectors: the catalog's own, or embedded (cache first)."""

    def __init__(self, opts: IndexOptions, embedder: Embedder | None, rejects: RejectLog) -> None:
        self.opts, self.embedder, self.rejects = opts, embedder, rejects
        self.dim: int | None = embedder.dim if embedder else None
        self.stats = _EmbedStats()
        self.cache: EmbeddingCache | None = None
        self.encode: Callable[[Sequence[str]], np.ndarray] | None = None
        self.chunk = 1024
        if embedder is None:
            return
        if opts.use_cache:
            self.cache = EmbeddingCache(opts.cache_dir / "embeddings", embedder.key, embedder.dim)
        self.encode = embedder.encode
        if opts.ray_address:
            from indexer.ray_embedding import RayEncoder

            ray = RayEncoder(opts.ray_address, opts.model, embedder.precision, opts.batch_size,
                             opts.ray_workers, embedder.dim)
            self.encode, self.chunk = ray.encode, max(opts.stream_batch, 1024)
        self.bar = tqdm(desc="embed", unit="items", disable=not opts.progress, mininterval=1.0)

    def __call__(self, batch: list[ItemDoc]) -> list[ItemDoc]:
        if self.embedder is None:
            kept, self.dim = _require_vectors(batch, self.rejects, self.dim)
            return kept
        todo = [item for item in batch if item.embedding is None]
        if todo and self.encode is not None:
            started = time.perf_counter()
            vectors, hits = embed_cached(
                [item.text for item in todo], self.encode, self.cache, self.embedder.dim,
                chunk=self.chunk, on_progress=self.bar.update,
            )  # fmt: skip
            self.stats.seconds += time.perf_counter() - started
            self.stats.hits += hits
            self.stats.embedded += len(todo) - hits
            for item, vec in zip(todo, vectors, strict=True):
                item.embedding = vec
        return batch

    def close(self) -> None:
        if self.embedder is not None:
            self.bar.close()
        if self.cache is not None:
            self.cache.close()


def _batches(items: Iterable[ItemDoc], size: int) -> Iterator[list[ItemDoc]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _matrix(batch: list[ItemDoc]) -> np.ndarray:
    return np.vstack([item.embedding for item in batch if item.embedding is not None])


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

    vectors = _Vectors(opts, embedder, rejects)
    try:
        dim = embedder.dim if embedder else None
        valid = validate_items(counted(limited), rejects, dim=dim)
        batches = (b for b in map(vectors, _batches(valid, opts.stream_batch)) if b)
        # The first batches fit the projection and fix the dimension; for a small catalog they
        # are all of it, and every check runs before the engine is touched.
        need = FIT_ROWS if opts.pca_dim or opts.storage == "byte" else 1
        head: list[list[ItemDoc]] = []
        while sum(map(len, head)) < need and (batch := next(batches, None)) is not None:
            head.append(batch)
        whole = not head or _exhausted(batches, head)
        return _load(client, opts, say, on_created, rejects, vectors, head, batches,
                     lambda: total, whole)
    finally:
        vectors.close()


def _exhausted(batches: Iterator[list[ItemDoc]], head: list[list[ItemDoc]]) -> bool:
    """Has the stream ended? (Pulls at most one more batch into ``head``.)"""
    extra = next(batches, None)
    if extra is None:
        return True
    head.append(extra)
    return False


def _load(
    client: SearchClient,
    opts: IndexOptions,
    say: Callable[[str], None],
    on_created: Callable[[str], None] | None,
    rejects: RejectLog,
    vectors: _Vectors,
    head: list[list[ItemDoc]],
    rest: Iterator[list[ItemDoc]],
    total: Callable[[], int],
    whole: bool,
) -> IndexReport:
    accepted = sum(map(len, head))
    if whole:
        if total() == 0:
            raise IndexRunError("the catalog has no rows")
        _check(rejects, total(), opts.max_reject_ratio)
        if not accepted:
            raise IndexRunError(f"no valid rows: {rejects.summary(total()).describe()}")
        say(f"{accepted} valid items of {total()} rows")
    dim = vectors.dim
    if dim is None:
        raise IndexRunError("no vectors: pass a model or an embedding column")

    meta: dict[str, Any] = {
        "kind": "items",
        "model": opts.model if vectors.embedder else "precomputed",
        "precision": vectors.embedder.precision if vectors.embedder else None,
        "storage": opts.storage,
        "source": opts.source,
    }
    fit = _matrix([item for batch in head for item in batch])
    projection: Projection | None = None
    if opts.pca_dim:
        projection = fit_pca(fit, opts.pca_dim)
        fit = projection.apply(fit)
        dim = opts.pca_dim
        meta["pca"] = {"dim": dim, "explained_variance": projection.explained_variance}
        say(f"PCA to {dim} dims keeps {projection.explained_variance:.1%} of the variance")
    scale = None
    if opts.storage == "byte":
        scale = byte_scale(fit)
        meta["byte_scale"] = scale
    del fit

    body = dialect_of(client).item_index_body(
        dim, meta, storage=opts.storage, m=opts.hnsw_m, ef_construction=opts.ef_construction,
        source_vectors=opts.source_vectors,
    )  # fmt: skip
    body["settings"]["index"].update(
        {"number_of_shards": opts.shards, "number_of_replicas": opts.replicas}
    )
    written_items = 0

    def docs() -> Iterator[tuple[str, dict[str, Any]]]:
        nonlocal written_items
        for batch in itertools.chain(head, rest):
            matrix = _matrix(batch)
            if projection is not None:
                matrix = projection.apply(matrix)
            if scale is not None:
                matrix = to_bytes(matrix, scale)
            written_items += len(batch)
            for item, vec in zip(batch, matrix, strict=True):
                yield item.id, item.source(vec)
        head.clear()  # the first batches are written: let them go

    new_index: list[str] = []

    def check(engine_rejected: int) -> None:
        _check(rejects, total(), opts.max_reject_ratio)
        if opts.replicas and new_index:
            # Swap only once every replica is allocated: losing a node must not lose documents.
            _wait_replicas(client, new_index[0])

    def created(index: str) -> None:
        new_index.append(index)
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
        total=accepted if whole else None,
        vector_field="embedding",
        rejects=rejects,
        keep=opts.keep,
        chunk_size=opts.chunk_size,
        threads=opts.threads,
        progress=opts.progress,
        check_rejects=check,
        on_created=created,
    )
    if not whole:
        say(f"{written_items} valid items of {total()} rows")
    stats = vectors.stats
    if vectors.embedder is not None:
        rate = ""
        if stats.embedded and stats.seconds:
            rate = f", {stats.embedded / stats.seconds:.0f} items/s"
        say(f"embedded {stats.embedded} items ({stats.hits} from cache{rate}) "
            f"with {vectors.embedder.key}")
    return IndexReport(
        load=load,
        rejects=rejects.summary(total()),
        accepted=load.written,
        dim=dim,
        cache_hits=stats.hits,
        embedded=stats.embedded,
        embed_seconds=stats.seconds,
    )


def _wait_replicas(client: SearchClient, index: str, wait_s: int = 300) -> None:
    """Block until ``index`` is green (every replica allocated), or fail: alias not moved."""
    health = client.cluster.health(
        index=index, params={"wait_for_status": "green", "timeout": f"{wait_s}s"},
        request_timeout=wait_s + 30,
    )  # fmt: skip
    if health.get("timed_out") or health.get("status") != "green":
        raise IndexRunError(
            f"{index}: replicas not allocated within {wait_s}s (health {health.get('status')}); "
            "fewer nodes than 1 + --replicas? alias not moved"
        )


def _require_vectors(
    items: list[ItemDoc], rejects: RejectLog, dim: int | None
) -> tuple[list[ItemDoc], int | None]:
    """Without a model every row needs a vector; the size is the most common one in the first
    batch that has vectors, and it holds for the rest of the catalog."""
    if dim is None:
        sizes = Counter(int(i.embedding.shape[0]) for i in items if i.embedding is not None)
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
