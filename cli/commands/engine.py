"""``divrank engine up|down|status|restart``: the local OpenSearch the tests and demo use.

``--engine elasticsearch`` runs the same commands against a local Elasticsearch instead
(:mod:`cli.nodes.elasticsearch`, port ``DIVRANK_ES_PORT``); OpenSearch stays the default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cli.nodes import elasticsearch as es_engine
from cli.nodes import opensearch as engine
from config.settings import Settings, get_settings

app = typer.Typer(help="Run a real single-node OpenSearch (+k-NN, +divrank plugin) locally.")

PortOption = Annotated[
    int | None,
    typer.Option(
        "--port", help="HTTP port (default DIVRANK_ENGINE_PORT 9200, or DIVRANK_ES_PORT 9400)."
    ),
]


class EngineKind(StrEnum):
    opensearch = "opensearch"
    elasticsearch = "elasticsearch"


EngineOption = Annotated[
    EngineKind, typer.Option("--engine", help="opensearch (default) or elasticsearch.")
]


def _settings(port: int | None, kind: EngineKind = EngineKind.opensearch) -> Settings:
    settings = get_settings()
    if not port:
        return settings
    field = "es_port" if kind is EngineKind.elasticsearch else "engine_port"
    return settings.model_copy(update={field: port})


def _say(message: str) -> None:
    typer.echo(f"[engine] {message}", err=True)


@app.command()
def up(
    port: PortOption = None,
    reinstall_plugin: Annotated[
        bool, typer.Option(help="Rebuild and reinstall the divrank plugin, restarting the engine.")
    ] = False,
    kind: EngineOption = EngineKind.opensearch,
) -> None:
    """Fetch (Maven), install plugins, start on 127.0.0.1 and wait for green. Idempotent."""
    try:
        if kind is EngineKind.elasticsearch:
            state = es_engine.up(_settings(port, kind), _say)
        else:
            state = engine.up(_settings(port), _say, reinstall_plugin=reinstall_plugin)
    except engine.EngineError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(state.url)


@app.command()
def down(port: PortOption = None, kind: EngineOption = EngineKind.opensearch) -> None:
    """Stop the engine started by `up` (by pid)."""
    if kind is EngineKind.elasticsearch:
        es_engine.down(_settings(port, kind), _say)
    else:
        engine.down(_settings(port), _say)


@app.command()
def restart(port: PortOption = None) -> None:
    """Stop, then start again (keeps data)."""
    settings = _settings(port)
    engine.down(settings, _say)
    try:
        engine.up(settings, _say)
    except engine.EngineError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def status(port: PortOption = None, kind: EngineOption = EngineKind.opensearch) -> None:
    """Print whether the engine runs, its health and plugins; exit 1 when it is down."""
    if kind is EngineKind.elasticsearch:
        state = es_engine.status(_settings(port, kind))
    else:
        state = engine.status(_settings(port))
    typer.echo(
        f"url={state.url} running={state.running} pid={state.pid} health={state.health} "
        f"plugins={','.join(state.plugins) or '-'}"
    )
    if not state.running:
        raise typer.Exit(1)
