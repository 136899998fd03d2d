"""The ``divrank`` console command: one Typer app per command group, joined here."""

from __future__ import annotations

import typer

from indexer.cli_demo import app as demo_app
from indexer.cli_engine import app as engine_app
from indexer.cli_index import index_app, profiles_app
from indexer.cli_pipeline import app as pipeline_app
from reranker.cli import register as register_reranker_commands

app = typer.Typer(
    name="divrank",
    help="Personalization plus diversity for OpenSearch: engine, indexer, sidecar, evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(engine_app, name="engine")
app.add_typer(index_app, name="index")
app.add_typer(profiles_app, name="profiles")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(demo_app, name="demo")
register_reranker_commands(app)

if __name__ == "__main__":
    app()
