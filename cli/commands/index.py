"""``divrank index`` and ``divrank profiles``: catalog and events into OpenSearch.

Exit codes: 0 published; 1 the run failed (engine unreachable, bad input, verification) and
the alias was not moved; 3 more rejects than ``--max-reject-ratio`` (alias not moved).
``--engine elasticsearch`` writes the same versions to Elasticsearch (``dense_vector``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.commands.engine import EngineKind, EngineOption
from config.settings import Settings, get_settings

index_app = typer.Typer(help="Embed a catalog and write it to a versioned index behind an alias.")
profiles_app = typer.Typer(help="Build user profiles from events into the profiles index.")

EXIT_FAILED = 1
EXIT_REJECTS = 3


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _say(message: str) -> None:
    typer.echo(f"[divrank] {message}", err=True)


def _client(
    settings: Settings, url: str | None, kind: EngineKind = EngineKind.opensearch
) -> Any:
    from config.connection import EngineUnavailable, connect, connect_elasticsearch

    try:
        if kind is EngineKind.elasticsearch:
            return connect_elasticsearch(settings, url)
        return connect(settings, url)
    except EngineUnavailable as exc:
        raise _fail(str(exc)) from None


UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Engine URL (default DIVRANK_OPENSEARCH_URL, or DIVRANK_ELASTICSEARCH_URL).",
    ),
]
AliasOption = Annotated[str, typer.Option("--alias", help="The alias searches use.")]


def _attrs(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(a.strip() for a in value.split(",") if a.strip())


@index_app.callback(invoke_without_command=True)
def index(
    ctx: typer.Context,
    alias: Annotated[str | None, typer.Option(help="Alias to publish under (required).")] = None,
    input: Annotated[
        Path | None, typer.Option("--input", "-i", help="Catalog file: .jsonl, .csv or .parquet.")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Ready-made catalog from ../shared/data: icecat|homedepot.")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl|csv|parquet (default: from the name).")
    ] = None,
    fields: Annotated[
        Path | None, typer.Option(help="Field mapping file (.yaml/.toml), see indexer/catalog.py.")
    ] = None,
    id_field: Annotated[str | None, typer.Option(help="Column holding the item id.")] = None,
    title_field: Annotated[str | None, typer.Option(help="Column holding the title.")] = None,
    description_field: Annotated[str | None, typer.Option(help="Description column.")] = None,
    category_field: Annotated[str | None, typer.Option(help="Category path column.")] = None,
    brand_field: Annotated[str | None, typer.Option(help="Brand column.")] = None,
    price_field: Annotated[str | None, typer.Option(help="Price column.")] = None,
    popularity_field: Annotated[
        str | None, typer.Option(help="Item prior column (how many shoppers had it, >= 0).")
    ] = None,
    embedding_field: Annotated[
        str | None, typer.Option(help="Column with precomputed vectors (kept as they are).")
    ] = None,
    attrs: Annotated[
        str | None, typer.Option(help="Extra columns for `attrs`, comma-separated; '*' = all.")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Shared data folder for presets (default ../shared/data).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Sentence-transformers model.")] = None,
    precision: Annotated[
        str, typer.Option(help="auto|fp32|bf16|int8 (see embeddings.py).")
    ] = "auto",
    batch_size: Annotated[int, typer.Option(min=1, help="Embedding batch size.")] = 32,
    embed: Annotated[
        bool, typer.Option(help="Embed texts; --no-embed needs an embedding column.")
    ] = True,
    cache: Annotated[bool, typer.Option(help="Use the on-disk embedding cache.")] = True,
    pca_dim: Annotated[
        int | None, typer.Option(min=1, help="PCA down-projection to this many dimensions.")
    ] = None,
    storage: Annotated[str, typer.Option(help="Vector storage: float32|sq|byte.")] = "float32",
    hnsw_m: Annotated[
        int, typer.Option("--hnsw-m", min=2, max=100, help="HNSW links per node.")
    ] = 16,
    ef_construction: Annotated[
        int, typer.Option(min=2, help="HNSW build beam; lower = faster bulk (see bench).")
    ] = 100,
    keep: Annotated[int, typer.Option(min=1, help="Complete versions to keep (>= 1).")] = 2,
    max_reject_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Fail (exit 3) above this share of rejects.")
    ] = 0.05,
    rejects: Annotated[
        Path | None, typer.Option(help="Rejects JSONL (default rejects-<alias>.jsonl).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
    threads: Annotated[int, typer.Option(min=1, help="Bulk requests in flight.")] = 2,
    chunk_size: Annotated[int, typer.Option(min=1, help="Documents per bulk request.")] = 500,
    shards: Annotated[int, typer.Option(min=1, help="Primary shards of the new version.")] = 1,
    source_vectors: Annotated[
        bool,
        typer.Option(
            "--source-vectors",
            help="Keep vectors in _source too (OpenSearch's native MMR needs them; divrank "
            "reads them from the vector values, so the default leaves them out).",
        ),
    ] = False,
    replicas: Annotated[
        int, typer.Option(min=0, help="Replicas per shard (a cluster; the swap waits for them).")
    ] = 0,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Embed on this Ray cluster (host:port; needs '.[distributed]')."),
    ] = None,
    ray_workers: Annotated[
        int, typer.Option(min=1, help="Encoder actors on the Ray cluster.")
    ] = 2,
    stream_batch: Annotated[
        int | None,
        typer.Option(min=1, help="Items read, embedded and written together "
                     "(memory bound; default 1000, or 20000 with --ray-address)."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Progress bars on stderr.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    url: UrlOption = None,
    kind: EngineOption = EngineKind.opensearch,
) -> None:
    """Index a catalog: `divrank index --preset icecat --alias products`."""
    if ctx.invoked_subcommand is not None:
        return
    from indexer.catalog import CatalogError, FieldMap, load_field_map, read_catalog
    from indexer.embeddings import EmbeddingError
    from indexer.index_run import IndexOptions, IndexRunError, RejectsExceeded, run_index
    from indexer.mapping import STORAGES
    from indexer.presets import PRESETS

    if not alias:
        raise _fail("--alias is required (e.g. --alias products)")
    if (input is None) == (preset is None):
        raise _fail("give exactly one of --input FILE or --preset icecat|homedepot")
    if storage not in STORAGES:
        raise _fail(f"--storage {storage!r}: use one of {', '.join(STORAGES)}")
    settings = get_settings()
    try:
        if preset is not None:
            if preset not in PRESETS:
                raise _fail(f"--preset {preset!r}: use one of {', '.join(PRESETS)}")
            rows = PRESETS[preset](data_dir or settings.shared_data)
            source = f"preset:{preset}"
        else:
            assert input is not None
            fmap = load_field_map(fields) if fields else FieldMap()
            fmap = fmap.with_overrides(
                id=id_field,
                title=title_field,
                description=description_field,
                category=category_field,
                brand=brand_field,
                price=price_field,
                popularity=popularity_field,
                embedding=embedding_field,
                attrs=_attrs(attrs),
            )
            rows = read_catalog(input, fmap, fmt)
            source = str(input)
        client = _client(settings, url, kind)
        opts = IndexOptions(
            alias=alias,
            model=model or settings.embedding_model,
            precision=precision,
            batch_size=batch_size,
            storage=storage,
            hnsw_m=hnsw_m,
            ef_construction=ef_construction,
            pca_dim=pca_dim,
            keep=keep,
            max_reject_ratio=max_reject_ratio,
            rejects_path=rejects or Path(f"rejects-{alias}.jsonl"),
            chunk_size=chunk_size,
            threads=threads,
            limit=limit,
            embed=embed,
            use_cache=cache,
            cache_dir=settings.cache_dir,
            progress=progress and sys.stderr.isatty(),
            source=source,
            shards=shards,
            replicas=replicas,
            source_vectors=True if source_vectors else None,
            ray_address=ray_address,
            ray_workers=ray_workers,
            stream_batch=stream_batch or (20_000 if ray_address else 1000),
        )
        report = run_index(client, rows, opts, say=_say)
    except typer.Exit:
        raise
    except RejectsExceeded as exc:
        source = str(input) if input is not None else f"--preset {preset}"
        raise _fail(f"{source}: {exc}", EXIT_REJECTS) from None
    except (CatalogError, IndexRunError, EmbeddingError, ValueError) as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # engine errors mid-run: one line, no traceback
        raise _fail(
            f"{_engine_error(exc)}; nothing is published before the final alias swap "
            f"(`divrank index list --alias {alias}` shows what serves), and the next run "
            "removes a half-written index"
        ) from None
    load = report.load
    result = {
        "alias": alias,
        "index": load.index,
        "previous": load.previous,
        "rows": report.rejects.total,
        "accepted": report.accepted,
        "rejected": report.rejects.rejected,
        "rejects_by_reason": report.rejects.by_reason,
        "rejects_file": str(report.rejects.path) if report.rejects.path else None,
        "dim": report.dim,
        "embedded": report.embedded,
        "cache_hits": report.cache_hits,
        "embed_items_per_s": round(report.embedded / report.embed_seconds, 1)
        if report.embedded and report.embed_seconds
        else None,
        "bulk_docs_per_s": round(load.written / load.bulk_seconds, 1)
        if load.bulk_seconds
        else None,
        "pruned": load.pruned,
        "orphans_removed": load.orphans,
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"published {load.index} as {alias} ({report.accepted} items, dim {report.dim})")
    typer.echo(f"rejects: {report.rejects.describe()}")
    if load.previous:
        typer.echo(f"previous version kept for rollback: {load.previous}")
    if load.pruned:
        typer.echo(f"pruned: {', '.join(load.pruned)}")
    if load.orphans:
        typer.echo(f"removed orphans of interrupted runs: {', '.join(load.orphans)}")


def _engine_error(exc: Exception) -> str:
    from opensearchpy.exceptions import ConnectionError, TransportError

    from indexer.alias_swap import AliasError

    if isinstance(exc, AliasError):
        return str(exc)
    if type(exc).__module__.split(".")[0] in ("elasticsearch", "elastic_transport"):
        from elastic_transport import TransportError as EsTransportError
        from elasticsearch import ApiError

        if isinstance(exc, ApiError):
            return f"Elasticsearch answered {exc.meta.status}: {exc.message} {exc.body}"[:800]
        if isinstance(exc, EsTransportError):
            return f"lost the connection to Elasticsearch ({exc.message})"
    if isinstance(exc, ConnectionError):
        return f"lost the connection to OpenSearch ({exc.info if hasattr(exc, 'info') else exc})"
    if isinstance(exc, TransportError):
        return f"OpenSearch answered {exc.status_code}: {exc.error} {exc.info}"[:800]
    return f"{type(exc).__name__}: {exc}"


@index_app.command()
def rollback(
    alias: AliasOption,
    to: Annotated[str | None, typer.Option(help="A specific complete version to serve.")] = None,
    url: UrlOption = None,
    kind: EngineOption = EngineKind.opensearch,
) -> None:
    """Point the alias back at the previous complete version (one atomic swap)."""
    from indexer.alias_swap import AliasError
    from indexer.alias_swap import rollback as do_rollback

    client = _client(get_settings(), url, kind)
    try:
        previous, target = do_rollback(client, alias, to)
    except AliasError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{alias} now serves {target} (was {previous})")


@index_app.command("list")
def list_versions(
    alias: AliasOption, url: UrlOption = None, kind: EngineOption = EngineKind.opensearch
) -> None:
    """Versions of an alias: name, complete, serving, rows."""
    from indexer.alias_swap import list_versions as versions

    client = _client(get_settings(), url, kind)
    for v in versions(client, alias):
        flags = ("serving " if v.serving else "") + ("complete" if v.complete else "INCOMPLETE")
        typer.echo(f"{v.name}\t{flags}\trows={v.meta.get('rows', '-')}")


@index_app.command()
def cleanup(
    alias: AliasOption, url: UrlOption = None, kind: EngineOption = EngineKind.opensearch
) -> None:
    """Delete orphans: incomplete versions left by interrupted runs."""
    from indexer.alias_swap import cleanup_orphans

    client = _client(get_settings(), url, kind)
    removed = cleanup_orphans(client, alias)
    typer.echo(f"removed {len(removed)} orphan(s){': ' + ', '.join(removed) if removed else ''}")


@profiles_app.command()
def build(
    events: Annotated[Path, typer.Option("--events", "-e", help="Events: our JSONL or UBI.")],
    alias: Annotated[
        str | None, typer.Option(help="Profiles alias (default DIVRANK_PROFILES_ALIAS).")
    ] = None,
    items_alias: Annotated[
        str | None, typer.Option(help="Items alias to take item vectors/categories from.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto|jsonl|ubi.")] = "auto",
    max_interests: Annotated[int, typer.Option(min=1, help="Interest vectors per user.")] = 4,
    items_per_interest: Annotated[
        int, typer.Option(min=1, help="History items per extra interest.")
    ] = 3,
    half_life_days: Annotated[
        float, typer.Option(min=0.001, help="Recency half-life of interests and label shares.")
    ] = 30.0,
    item_half_life_days: Annotated[
        float | None,
        typer.Option(min=0.001, help="Recency half-life of the item memory (what a shopper "
                     "buys again; default 180 days)"),
    ] = None,
    recent: Annotated[int, typer.Option(min=0, help="Recent item ids kept.")] = 20,
    until: Annotated[
        str | None,
        typer.Option(help="Leave out events at or after this moment (ISO-8601 or epoch "
                     "seconds) and count recency from it: the profiles a replay cut there sees"),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model for items known only by text.")] = None,
    precision: Annotated[str, typer.Option(help="auto|fp32|bf16|int8.")] = "auto",
    keep: Annotated[int, typer.Option(min=1, help="Complete versions to keep.")] = 2,
    rejects: Annotated[Path | None, typer.Option(help="Rejects JSONL for bad events.")] = None,
    max_reject_ratio: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    url: UrlOption = None,
    kind: EngineOption = EngineKind.opensearch,
) -> None:
    """Build profiles: `divrank profiles build --events ubi.ndjson --items-alias products`."""
    from indexer.embeddings import EmbeddingError
    from indexer.events import parse_ts
    from indexer.profile_run import ProfileOptions, ProfileRunError, run_profiles
    from indexer.profiles import ProfileConfig

    try:
        until_ts = None if until is None else parse_ts(until)
    except ValueError:
        raise typer.BadParameter(f"{until!r} is not a moment: give ISO-8601 (2024-06-01, "
                                 "2024-06-01T12:00:00Z) or epoch seconds",
                                 param_hint="--until") from None  # fmt: skip
    settings = get_settings()
    target = alias or settings.profiles_alias
    client = _client(settings, url, kind)
    opts = ProfileOptions(
        events=events,
        alias=target,
        items_alias=items_alias,
        fmt=fmt,
        config=ProfileConfig(
            max_interests=max_interests,
            items_per_interest=items_per_interest,
            half_life_days=half_life_days,
            **({"item_half_life_days": item_half_life_days} if item_half_life_days else {}),
            recent=recent,
        ),
        model=model or settings.embedding_model,
        precision=precision,
        keep=keep,
        rejects_path=rejects or Path(f"rejects-{target}.jsonl"),
        max_reject_ratio=max_reject_ratio,
        cache_dir=settings.cache_dir,
        progress=sys.stderr.isatty(),
        until=until_ts,
    )
    try:
        report = run_profiles(client, opts, say=_say)
    except (ProfileRunError, EmbeddingError, FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        raise _fail(_engine_error(exc)) from None
    result = {
        "alias": target,
        "index": report.load.index,
        "previous": report.load.previous,
        "users": report.users,
        "profiles": report.profiles,
        "users_without_vectors": report.users_without_vectors,
        "items_from_index": report.items_from_index,
        "items_from_text": report.items_from_text,
        "items_unknown": report.items_unknown,
        "events": report.events.events,
        "skipped": dict(report.events.skipped),
        "left_out_after_until": report.left_out,
        "rejected": report.rejects.rejected,
        "dim": report.dim,
        "pruned": report.load.pruned,
        "orphans_removed": report.load.orphans,
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(
        f"published {report.load.index} as {target}: {report.profiles} profiles "
        f"({report.users_without_vectors} users without item vectors)"
    )
    typer.echo(
        f"items: {report.items_from_index} from index, {report.items_from_text} from "
        f"event text, {report.items_unknown} unknown; rejects: {report.rejects.describe()}"
    )
    if report.left_out:
        typer.echo(f"left out {report.left_out} events at or after --until {until}")
