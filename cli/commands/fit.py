"""``divrank fit-gain`` and ``divrank fit-knob``: fit, on validation, how the sidecar serves a
relevance model (how sharply it reads the scores; how the knob spends relevance) and store it
in the model file. The work lives in :mod:`training.gain_fit` and :mod:`training.knob_curve`;
here only options, progress and one-sentence errors (exit code 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.commands.evaluate import (
    _FAILURES,
    DEFAULT_DATA,
    CatalogFile,
    Cut,
    DataDir,
    EventsFile,
    FieldsFile,
    JudgmentsFile,
    NoEngine,
    QueriesPerUser,
    Quiet,
    Seed,
    _context,
    _describe,
    _fail,
    _say,
    _shop_loader,
)

__all__ = ["fit_gain_command", "fit_knob_command"]

DEFAULT_TEMPERATURES = "0,0.1,0.15,0.2,0.25,0.3,0.5,1"


def fit_gain_command(
    into: Annotated[
        Path,
        typer.Option(
            help="relevance model file (*.json) with fusion weights; "
            "gets the chosen temperature and a refitted knob curve"
        ),
    ],
    retrieval: Annotated[
        str, typer.Option(help="comma-separated candidate sets, scored on their mean")
    ] = "bm25,hybrid,knn",
    temperatures: Annotated[
        str, typer.Option(help="comma-separated temperatures to try (0 = the scores' min-max line)")
    ] = DEFAULT_TEMPERATURES,
    valid_limit: Annotated[
        int, typer.Option(help="validation lists per candidate set (0 = all)")
    ] = 800,
    steps: Annotated[int, typer.Option(min=1, help="knob steps of equal NDCG cost")] = 20,
    data_dir: DataDir = DEFAULT_DATA,
    catalog: CatalogFile = None,
    fields: FieldsFile = None,
    events: EventsFile = None,
    judgments: JudgmentsFile = None,
    cut: Cut = "0.8",
    queries_per_user: QueriesPerUser = 3,
    no_engine: NoEngine = False,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Choose how sharply the fusion reads the relevance model's scores (the gain curve's
    temperature, by the learned targets: >= 1.05x engine NDCG, then ILD and brands) on the
    Home Depot validation split, or with --catalog and --events (--judgments) on a shop's
    replayed users (judged queries),
    refit the knob curve there, and store both in the model. A model without fusion weights
    gets the core's defaults with the curve."""
    from dataclasses import replace

    from evaluation.profiles import profile_from_history
    from evaluation.runner import sample
    from evaluation.sweep import build_contexts
    from reranker.core.normalize import MAX_GAIN_TEMPERATURE
    from reranker.core.weights import DEFAULT_WEIGHTS
    from reranker.relevance_io import load_relevance_model, save_relevance_model
    from training.gain_fit import fit_gain

    try:
        grid = [float(t) for t in temperatures.split(",") if t.strip()]
    except ValueError:
        _fail(f"--temperatures must be comma-separated numbers, got {temperatures!r}")
    if not grid or any(not 0 <= t <= MAX_GAIN_TEMPERATURE for t in grid):
        _fail(f"--temperatures must lie in [0, {MAX_GAIN_TEMPERATURE:g}], got {temperatures!r}")
    try:
        model = load_relevance_model(into)
    except (OSError, ValueError) as exc:
        _fail(f"--into {into}: {exc}")
    tuned = model.fusion_weights or DEFAULT_WEIGHTS
    flat = replace(model, gain_temperature=0.0)  # the lists carry min-max scores
    loader = _shop_loader(catalog, events, cut, queries_per_user, judgments, fields)
    sources = [r.strip() for r in retrieval.split(",") if r.strip()]
    if not sources:
        _fail("--retrieval names no candidate set")
    try:
        sets = []
        for source in sources:
            ctx = _context("homedepot", source, data_dir, no_engine, False, seed, quiet,
                           loader=loader)  # fmt: skip
            lists, metrics = build_contexts(
                sample(ctx["episodes"], "valid", valid_limit or None, seed), ctx["table"],
                profile_from_history, flat)  # fmt: skip
            _say(f"{source}: {len(lists)} validation lists")
            sets.append((lists, metrics, ctx["table"]))
        fit = fit_gain(sets, tuned, grid, steps=steps, say=_say)
    except _FAILURES as exc:
        _fail(_describe(exc))
    weights = replace(tuned, knob_curve=fit.knob_curve)
    save_relevance_model(replace(model, gain_temperature=fit.temperature,
                                 fusion_weights=weights), into)  # fmt: skip
    typer.echo(f"wrote temperature {fit.temperature:g} (validation score "
               f"{fit.scores[fit.temperature]:.4f}, at 0: {fit.scores.get(0.0, float('nan')):.4f})"
               f" and its knob curve into {into}")  # fmt: skip


def fit_knob_command(
    runs: Annotated[
        list[Path],
        typer.Option(
            "--runs",
            help="validation runs JSON written by "
            "`divrank eval` (reports/runs/NAME-valid.json); give it once per candidate "
            "set to pool them",
        ),
    ],
    into: Annotated[
        Path, typer.Option(help="relevance model file (*.json) whose fusion weights get the curve")
    ],
    row: Annotated[str, typer.Option(help="the row of the runs to even out")] = "fusion-relevance",
    steps: Annotated[int, typer.Option(min=1, help="knob steps of equal NDCG cost")] = 20,
) -> None:
    """Even out the knob: fit, on validation NDCG@10, the map from the knob a request asks for
    to the knob the fusion runs at, so each of ``steps`` equal steps costs the same NDCG, and
    store it with the model's fusion weights. The test split is never read."""
    from dataclasses import replace

    from reranker.relevance_io import load_relevance_model, save_relevance_model
    from training.knob_curve import fit_knob_curve, pooled_curve

    curves = []
    for path in runs:
        if not path.name.endswith("-valid.json"):
            _fail(f"--runs {path}: use the validation runs (*-valid.json), never the test ones")
        try:
            points = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _fail(f"--runs {path}: {exc}")
        mine = sorted((p["diversity"], p["metrics"]["ndcg@10"]) for p in points
                      if p.get("strategy") == row)  # fmt: skip
        if len(mine) < 2 or mine[0][0] != 0.0 or mine[-1][0] != 1.0:
            _fail(f"--runs {path}: row {row!r} needs NDCG@10 at knobs 0 … 1 (run divrank eval "
                  f"--knobs 0,0.05,…,1); found knobs {[k for k, _ in mine]}")  # fmt: skip
        curves.append(mine)
    grid = [k for k, _ in curves[0]]
    if any([k for k, _ in c] != grid for c in curves):
        _fail("--runs files must share one knob grid")
    try:
        curve = fit_knob_curve(grid, pooled_curve([[v for _, v in c] for c in curves]), steps)
    except ValueError as exc:
        _fail(f"--runs: {exc}")
    try:
        model = load_relevance_model(into)
    except (OSError, ValueError) as exc:
        _fail(f"--into {into}: {exc}")
    if model.fusion_weights is None:
        _fail(f"--into {into} carries no fusion weights to fit the knob for")
    weights = replace(model.fusion_weights, knob_curve=curve)
    save_relevance_model(replace(model, fusion_weights=weights), into)
    shown = ", ".join(f"{a:g}→{b:.3f}" for a, b in curve[:: max(1, steps // 5)])
    typer.echo(f"wrote the knob curve into {into}: {shown}")
