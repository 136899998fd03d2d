"""Write documents into a new version of an alias and publish it only once it is verified.

Shared by ``divrank index`` (items) and ``divrank profiles build`` (profiles): clean orphans of
earlier interrupted runs, create ``<alias>-<stamp>`` (incomplete), bulk-load, verify
(count = accepted, a sample k-NN query answers), mark complete, swap the alias atomically,
prune old versions. Any failure before the swap deletes the new index and leaves the alias as
it was; only a hard kill can leave an orphan, which the next run removes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from indexer import alias_swap
from indexer.bulk_writer import vector_json, write_bulk
from indexer.engine_dialect import SearchClient
from indexer.rejects import Reason, RejectLog

__all__ = ["LoadResult", "load_versioned"]


@dataclass
class LoadResult:
    index: str
    alias: str
    written: int
    engine_rejected: int
    previous: str | None
    pruned: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    bulk_seconds: float = 0.0


def load_versioned(
    client: SearchClient,
    alias: str,
    body: dict[str, Any],
    docs: Iterable[tuple[str, dict[str, Any]]],
    *,
    total: int,
    vector_field: str | None,
    rejects: RejectLog,
    keep: int = 2,
    chunk_size: int = 500,
    threads: int = 1,
    progress: bool = True,
    check_rejects: Callable[[int], None] | None = None,
    on_created: Callable[[str], None] | None = None,
) -> LoadResult:
    """Load ``docs`` (``(id, source)``) into a new version of ``alias`` and publish it.

    ``check_rejects(engine_rejected)`` may raise to stop before the swap (reject threshold).
    """
    import time

    orphans = alias_swap.cleanup_orphans(client, alias)
    index = alias_swap.create_version(client, alias, body)
    if on_created:
        on_created(index)
    sample: dict[str, Any] = {}

    def remember_sample(
        stream: Iterable[tuple[str, dict[str, Any]]],
    ) -> Iterable[tuple[str, dict[str, Any]]]:
        for doc_id, source in stream:
            if vector_field and not sample and source.get(vector_field) is not None:
                sample["vector"] = vector_json(source[vector_field])
            yield doc_id, source

    try:
        started = time.perf_counter()
        result = write_bulk(
            client,
            index,
            remember_sample(docs),
            chunk_size=chunk_size,
            threads=threads,
            progress=progress,
            total=total,
            desc=f"bulk {index}",
        )
        bulk_seconds = time.perf_counter() - started
        for doc_id, reason in result.failed:
            rejects.add(None, doc_id, Reason.ENGINE_REJECTED, reason)
        if check_rejects:
            check_rejects(len(result.failed))
        alias_swap.verify(client, index, result.ok, vector_field, sample.get("vector"))
        alias_swap.mark_complete(client, index, {"rows": result.ok})
        previous = alias_swap.swap(client, alias, index)
    except BaseException:
        # Anything short of a hard kill: drop the half-written version, keep the alias.
        # The engine may be the thing that failed; then the next run cleans up.
        with contextlib.suppress(Exception):
            client.indices.delete(index=index, ignore_unavailable=True)
        raise
    pruned = alias_swap.prune(client, alias, keep)
    return LoadResult(
        index=index,
        alias=alias,
        written=result.ok,
        engine_rejected=len(result.failed),
        previous=previous,
        pruned=pruned,
        orphans=orphans,
        bulk_seconds=bulk_seconds,
    )
