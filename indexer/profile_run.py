"""Events → item vectors (from the items alias, else from the event's own text) → profiles index.

Item vectors come from the serving items index (``mget`` by id, then by the UBI
``internal_id``), so profiles live in the same space as the candidates the sidecar scores.
Events about items the catalog lacks (the UBI sample references Amazon products) fall back to
embedding a text for the item: its description from any event in the log, else the query that
led to the event (see ``EventReadStats.text_for``); items with none are counted and left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.vector_fetch import hit_vector, search_by_ids
from indexer.embedding_cache import EmbeddingCache, embed_cached
from indexer.embeddings import Embedder
from indexer.engine_dialect import SearchClient, dialect_of, vector_dim
from indexer.events import Event, EventReadStats, read_events
from indexer.profiles import ItemInfo, ProfileConfig, build_profile, group_by_user
from indexer.rejects import RejectLog, RejectSummary
from indexer.versioned_load import LoadResult, load_versioned

__all__ = ["ProfileOptions", "ProfileReport", "ProfileRunError", "run_profiles"]


class ProfileRunError(RuntimeError):
    """Nothing to publish, or inputs that do not fit together; the alias is untouched."""


@dataclass
class ProfileOptions:
    events: Path
    alias: str
    items_alias: str | None = None
    fmt: str = "auto"
    config: ProfileConfig = field(default_factory=ProfileConfig)
    model: str = "all-MiniLM-L6-v2"
    precision: str = "auto"
    embed_unknown: bool = True
    keep: int = 2
    rejects_path: Path | None = None
    max_reject_ratio: float = 0.2
    cache_dir: Path = Path(".cache")
    progress: bool = True
    # epoch seconds: events at or after it are left out and recency counts from it (the
    # profiles as a replay cut at that moment sees them); None = all events, as of the newest
    until: float | None = None


@dataclass
class ProfileReport:
    load: LoadResult
    users: int
    profiles: int
    users_without_vectors: int
    items_from_index: int
    items_from_text: int
    items_unknown: int
    events: EventReadStats
    rejects: RejectSummary
    dim: int
    left_out: int = 0  # events at or after ``until``
    extra: dict[str, Any] = field(default_factory=dict)


def _fetch_items(client: SearchClient, alias: str, ids: list[str]) -> dict[str, ItemInfo]:
    """Vector and labels of each item found. OpenSearch item indices keep vectors out of
    ``_source``: they are read through the plugin's fetch sub-phase (:mod:`config.vector_fetch`);
    Elasticsearch indices keep them in ``_source``."""
    found: dict[str, ItemInfo] = {}
    opensearch = dialect_of(client).name == "opensearch"
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        if opensearch:
            hits = search_by_ids(client, alias, chunk, "embedding", ("category", "brand"))
        else:
            resp = client.mget(
                index=alias, body={"ids": chunk},
                _source_includes=["embedding", "category", "brand"],
            )  # fmt: skip
            hits = [doc for doc in resp["docs"] if doc.get("found")]
        for hit in hits:
            if hit["_id"] in found:
                continue
            src = hit.get("_source") or {}
            found[hit["_id"]] = ItemInfo(
                vector=hit_vector(hit, "embedding"),
                category=src.get("category"),
                brand=src.get("brand"),
            )
    return found


def _index_dim(client: SearchClient, alias: str) -> int | None:
    mapping = client.indices.get_mapping(index=alias)
    for body in mapping.values():
        field_def = body.get("mappings", {}).get("properties", {}).get("embedding", {})
        dim = vector_dim(field_def)
        if dim is not None:
            return dim
    return None


def run_profiles(
    client: SearchClient, opts: ProfileOptions, say: Callable[[str], None] = lambda _: None
) -> ProfileReport:
    rejects = RejectLog(opts.rejects_path)
    stats = EventReadStats()
    events: list[Event] = list(read_events(opts.events, rejects, opts.fmt, stats))
    total = stats.events + rejects.rejected
    summary = RejectSummary(
        total, rejects.rejected, dict(rejects.counts), opts.rejects_path, rejects.first
    )
    if total and summary.ratio > opts.max_reject_ratio:
        rejects.close()
        raise ProfileRunError(
            f"{opts.events}: {summary.describe()}: above --max-reject-ratio "
            f"{opts.max_reject_ratio:.1%}; alias not moved"
        )
    left_out = 0
    if opts.until is not None:
        kept = [e for e in events if e.ts < opts.until]
        left_out = len(events) - len(kept)
        events = kept
    if not events:
        after = f"; {left_out} at or after --until" if left_out else ""
        raise ProfileRunError(
            f"{opts.events}: no usable events ({stats.lines} lines; skipped: "
            f"{dict(stats.skipped)}{after})"
        )
    if left_out:
        say(f"left out {left_out} events at or after --until")
    say(
        f"{len(events)} interest events from {stats.lines} lines "
        f"(skipped {sum(stats.skipped.values())} non-signals)"
    )

    items: dict[str, ItemInfo] = {}
    dim: int | None = None
    if opts.items_alias:
        try:
            dim = _index_dim(client, opts.items_alias)
        except dialect_of(client).not_found:
            raise ProfileRunError(f"items alias {opts.items_alias!r} does not exist") from None
        wanted = sorted(
            {e.item_id for e in events} | {e.alt_item_id for e in events if e.alt_item_id}
        )
        items = _fetch_items(client, opts.items_alias, wanted)
        # An event names its item by the id the frontend knew; map UBI internal ids across.
        for event in events:
            if event.item_id not in items and event.alt_item_id in items:
                items[event.item_id] = items[event.alt_item_id]
    from_index = len({e.item_id for e in events if e.item_id in items})

    texts: dict[str, str] = {}
    meta: dict[str, tuple[str | None, str | None]] = {}
    for event in events:
        text = stats.text_for(event)
        if event.item_id not in items and text:
            texts.setdefault(event.item_id, text)
            meta.setdefault(event.item_id, (event.category, event.brand))
    from_text = 0
    if texts and opts.embed_unknown:
        embedder = Embedder(opts.model, opts.precision)
        if dim is not None and embedder.dim != dim:
            say(
                f"not embedding {len(texts)} unknown items: model gives {embedder.dim} dims, "
                f"the items index has {dim}"
            )
        else:
            dim = embedder.dim
            cache = EmbeddingCache(opts.cache_dir / "embeddings", embedder.key, embedder.dim)
            ids = sorted(texts)
            vectors, _ = embed_cached([texts[i] for i in ids], embedder.encode, cache, embedder.dim)
            cache.close()
            for item_id, vec in zip(ids, vectors, strict=True):
                category, brand = meta[item_id]
                items[item_id] = ItemInfo(vector=vec, category=category, brand=brand)
            from_text = len(ids)
    if dim is None:
        raise ProfileRunError("no item vectors: pass --items-alias or events with item text")
    unknown = len({e.item_id for e in events} - set(items))

    now = opts.until if opts.until is not None else max(e.ts for e in events)
    stamp = datetime.now(UTC)
    users = group_by_user(events)
    docs = []
    for user_id, history in sorted(users.items()):
        profile = build_profile(user_id, history, items, now, opts.config, updated_at=stamp)
        if profile is not None:
            docs.append((user_id, profile))
    if not docs:
        raise ProfileRunError("no user has an item with a vector; nothing to publish")
    say(f"{len(docs)} profiles of {len(users)} users")
    body = dialect_of(client).profile_index_body(
        dim, {"kind": "profiles", "source": str(opts.events), "items_alias": opts.items_alias}
    )
    load = load_versioned(
        client,
        opts.alias,
        body,
        docs,
        total=len(docs),
        vector_field="centroid",
        rejects=rejects,
        keep=opts.keep,
        progress=opts.progress,
        threads=1,
    )
    return ProfileReport(
        load=load,
        users=len(users),
        profiles=len(docs),
        users_without_vectors=len(users) - len(docs),
        items_from_index=from_index,
        items_from_text=from_text,
        items_unknown=unknown,
        events=stats,
        rejects=rejects.summary(total),
        dim=dim,
        left_out=left_out,
    )
