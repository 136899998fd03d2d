"""``divrank engine up|down|status|restart``: the local OpenSearch the tests and demo use.

``--nodes N`` starts a local cluster of N nodes (ports ``port..port+N-1``, transport
``+100``), each a small JVM with its own data under the engine home. ``--engine
elasticsearch`` runs the same commands against a local Elasticsearch instead
(:mod:`cli.nodes.elasticsearch`, port ``DIVRANK_ES_PORT``); OpenSearch stays the default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cli.nodes import elasticsearch as es_engine
from cli.nodes import opensearch as engine
from cli.nodes.process import NodeError
from config.settings import Settings, get_settings

app = typer.Typer(help="Run a real local OpenSearch (+k-NN, +divrank plugin): one node or several.")

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


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


@app.command()
def up(
    port: PortOption = None,
    reinstall_plugin: Annotated[
        bool, typer.Option(help="Rebuild and reinstall the divrank plugin, restarting the engine.")
    ] = False,
    kind: EngineOption = EngineKind.opensearch,
    nodes: Annotated[
        int, typer.Option("--nodes", min=1, max=9, help="Nodes in the local cluster.")
    ] = 1,
) -> None:
    """Fetch (Maven), install plugins, start on 127.0.0.1 and wait for green. Idempotent."""
    try:
        if kind is EngineKind.elasticsearch:
            state = es_engine.up(_settings(port, kind), _say, nodes=nodes)
        else:
            state = engine.up(_settings(port), _say, reinstall_plugin=reinstall_plugin,
                              nodes=nodes)
    except NodeError as exc:
        raise _fail(exc) from None
    typer.echo(state.url)


@app.command()
def down(port: PortOption = None, kind: EngineOption = EngineKind.opensearch) -> None:
    """Stop every node started by `up` from this engine home: only processes whose pid and
    start time match what `up` recorded; a pid file naming anything else is refused."""
    try:
        if kind is EngineKind.elasticsearch:
            es_engine.down(_settings(port, kind), _say)
        else:
            engine.down(_settings(port), _say)
    except NodeError as exc:
        raise _fail(exc) from None


@app.command()
def restart(port: PortOption = None) -> None:
    """Stop, then start again with as many nodes as before (keeps data)."""
    settings = _settings(port)
    try:
        count = engine.cluster(settings).recorded_size() or 1
        engine.down(settings, _say)
        engine.up(settings, _say, nodes=count)
    except NodeError as exc:
        raise _fail(exc) from None


@app.command()
def status(port: PortOption = None, kind: EngineOption = EngineKind.opensearch) -> None:
    """Print whether the engine runs, its health, plugins and nodes; exit 1 when it is down."""
    if kind is EngineKind.elasticsearch:
        state = es_engine.status(_settings(port, kind))
    else:
        state = engine.status(_settings(port))
    typer.echo(
        f"url={state.url} running={state.running} pid={state.pid} health={state.health} "
        f"nodes={state.cluster_nodes} plugins={','.join(state.plugins) or '-'}"
    )
    for node in state.nodes:
        note = f" ({node.note})" if node.note else ""
        typer.echo(f"  {node.name} {node.url} pid={node.pid or '-'}{note}")
    if not state.running:
        raise typer.Exit(1)
