"""``divrank pipeline``: register the divrank search pipeline on the engine."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli import pipeline
from config.connection import EngineUnavailable, connect
from config.settings import get_settings
from reranker.contract import DEFAULT_DIVERSITY

app = typer.Typer(help="Create the divrank search pipeline and set it as an index default.")

NameOption = Annotated[str, typer.Option("--name", help="Search pipeline name.")]
UrlOption = Annotated[
    str | None, typer.Option("--url", help="Engine URL (default DIVRANK_OPENSEARCH_URL).")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@app.command()
def install(
    alias: Annotated[
        str | None,
        typer.Option(help="Alias (or index) whose indices get the pipeline with --default."),
    ] = None,
    default: Annotated[
        bool,
        typer.Option(
            "--default", help="Set it as index.search.default_pipeline on the alias's indices."
        ),
    ] = False,
    name: NameOption = "divrank",
    sidecar_url: Annotated[
        list[str] | None,
        typer.Option(
            help="Sidecar base URL (default http://DIVRANK_HOST:DIVRANK_PORT); give it again "
            "for several sidecars: the plugin spreads requests over them and skips dead ones."
        ),
    ] = None,
    window_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Hits fetched and re-ranked.")
    ] = 100,
    connect_timeout_ms: Annotated[int, typer.Option(min=1, max=60_000)] = 200,
    read_timeout_ms: Annotated[int, typer.Option(min=1, max=60_000)] = 1000,
    diversity: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Default diversity when ext omits it.")
    ] = DEFAULT_DIVERSITY,
    strategy: Annotated[
        str, typer.Option(help="Default strategy: engine|personalized|mmr|dpp|fusion.")
    ] = "fusion",
    fail_open: Annotated[
        bool,
        typer.Option(
            "--fail-open/--fail-closed",
            help="On sidecar failure return engine order (default) or fail the search.",
        ),
    ] = True,
    send_embeddings: Annotated[
        bool,
        typer.Option(
            "--send-embeddings/--no-send-embeddings",
            help="Send vectors from _source, or let the sidecar look them up by id (cached).",
        ),
    ] = True,
    embedding_field: Annotated[str, typer.Option()] = "embedding",
    category_field: Annotated[str, typer.Option()] = "category",
    brand_field: Annotated[str, typer.Option()] = "brand",
    price_field: Annotated[str, typer.Option()] = "price",
    title_field: Annotated[
        str, typer.Option(help="Sent as each candidate's title (the learned relevance model).")
    ] = "title",
    popularity_field: Annotated[
        str, typer.Option(help="Sent as each candidate's item prior (how many shoppers had it).")
    ] = "popularity",
    lean_window: Annotated[
        bool | None,
        typer.Option(
            "--lean-window/--no-lean-window",
            help="Read the window from doc values only and the page's _source after re-ranking "
            "(faster; needs the indexer's item_id field). Default: on when every index behind "
            "--alias has it.",
        ),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Create (or replace) the search pipeline; with --default, make it the alias's default."""
    if default and not alias:
        raise _fail("--default needs --alias NAME (the alias whose indices get the default)")
    settings = get_settings()
    try:
        client = connect(settings, url)
        ready = pipeline.lean_window_ready(client, alias) if alias else False
        bytes_ = pipeline.byte_vectors(client, alias, embedding_field) if alias else False
    except (EngineUnavailable, pipeline.PipelineError) as exc:
        raise _fail(str(exc)) from None
    if lean_window and alias and not ready:
        typer.echo(
            f"warning: not every index behind {alias!r} has the item_id doc-value field; "
            "their searches run twice (engine order, degraded) until reindexed",
            err=True,
        )
    try:
        config = pipeline.PipelineConfig(
            name=name,
            sidecar_url=tuple(sidecar_url) if sidecar_url else f"http://{settings.host}:{settings.port}",
            connect_timeout_ms=connect_timeout_ms,
            read_timeout_ms=read_timeout_ms,
            window_size=window_size,
            default_diversity=diversity,
            default_strategy=strategy,
            fail_open=fail_open,
            send_embeddings=send_embeddings,
            embedding_field=embedding_field,
            category_field=category_field,
            brand_field=brand_field,
            price_field=price_field,
            title_field=title_field,
            popularity_field=popularity_field,
            lean_window=ready if lean_window is None else lean_window,
            byte_query_vectors=bytes_,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    try:
        pipeline.install(client, config)
        urls = config.sidecar_url
        shown = urls if isinstance(urls, str) else ", ".join(urls)
        lean = "lean window" if config.lean_window else "window with stored fields"
        if lean_window is None and not alias:
            lean += "; give --alias to use the lean window where the indices allow it"
        if config.byte_query_vectors:
            lean += "; float k-NN query vectors quantised for the byte index"
        typer.echo(f"search pipeline {name!r} installed (sidecar {shown}; {lean})")
        if default and alias:
            indices = pipeline.set_default(client, alias, name)
            typer.echo(f"default pipeline of {alias!r}: {name} (indices: {', '.join(indices)})")
    except (EngineUnavailable, pipeline.PipelineError) as exc:
        raise _fail(str(exc)) from None


@app.command()
def show(name: NameOption = "divrank", url: UrlOption = None) -> None:
    """Print the stored pipeline definition; exit 1 when it does not exist."""
    try:
        found = pipeline.get(connect(get_settings(), url), name)
    except EngineUnavailable as exc:
        raise _fail(str(exc)) from None
    if found is None:
        raise _fail(f"no search pipeline named {name!r}")
    typer.echo(json.dumps(found, indent=2))


@app.command()
def remove(
    name: NameOption = "divrank",
    alias: Annotated[
        str | None, typer.Option(help="Also clear the default pipeline of this alias's indices.")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Delete the pipeline (clearing the alias's default first when --alias is given)."""
    try:
        client = connect(get_settings(), url)
        if alias:
            indices = pipeline.clear_default(client, alias)
            typer.echo(f"cleared the default pipeline of {', '.join(indices)}")
        removed = pipeline.delete(client, name)
    except (EngineUnavailable, pipeline.PipelineError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"search pipeline {name!r} {'removed' if removed else 'did not exist'}")
