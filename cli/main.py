"""The ``divrank`` console command: every command group, joined here.

Each group lives in :mod:`cli.commands`; heavy imports (FastAPI, torch) stay inside the
commands so ``divrank --help`` starts fast.
"""

from __future__ import annotations

import typer

from cli.commands.demo import app as demo_app
from cli.commands.engine import app as engine_app
from cli.commands.evaluate import (
    eval_command,
    train_command,
    train_relevance_command,
    tune_command,
)
from cli.commands.fit import fit_gain_command, fit_knob_command
from cli.commands.index import index_app, profiles_app
from cli.commands.pipeline import app as pipeline_app
from cli.commands.serve import serve

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
app.command("serve")(serve)
app.command("eval")(eval_command)
app.command("train")(train_command)
app.command("train-relevance")(train_relevance_command)
app.command("tune")(tune_command)
app.command("fit-gain")(fit_gain_command)
app.command("fit-knob")(fit_knob_command)

if __name__ == "__main__":
    app()
