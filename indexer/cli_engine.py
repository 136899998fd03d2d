"""``divrank engine up|down|status|restart``: the local OpenSearch the tests and demo use."""

from __future__ import annotations

from typing import Annotated

import typer

from indexer import engine
from reranker.settings import Settings, get_settings

app = typer.Typer(help="Run a real single-node OpenSearch (+k-NN, +divrank plugin) locally.")

PortOption = Annotated[
    int | None, typer.Option("--port", help="HTTP port (default DIVRANK_ENGINE_PORT, 9200).")
]


def _settings(port: int | None) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"engine_port": port}) if port else settings


def _say(message: str) -> None:
    typer.echo(f"[engine] {message}", err=True)


@app.command()
def up(
    port: PortOption = None,
    reinstall_plugin: Annotated[
        bool, typer.Option(help="Rebuild and reinstall the divrank plugin, restarting the engine.")
    ] = False,
) -> None:
    """Fetch (Maven), install plugins, start on 127.0.0.1 and wait for green. Idempotent."""
    try:
        state = engine.up(_settings(port), _say, reinstall_plugin=reinstall_plugin)
    except engine.EngineError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(state.url)


@app.command()
def down(port: PortOption = None) -> None:
    """Stop the engine started by `up` (by pid)."""
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
def status(port: PortOption = None) -> None:
    """Print whether the engine runs, its health and plugins; exit 1 when it is down."""
    state = engine.status(_settings(port))
    typer.echo(
        f"url={state.url} running={state.running} pid={state.pid} health={state.health} "
        f"plugins={','.join(state.plugins) or '-'}"
    )
    if not state.running:
        raise typer.Exit(1)
