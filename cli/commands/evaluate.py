"""``divrank eval``, ``divrank train``, ``divrank train-relevance`` and ``divrank tune``.

Output and error messages only; the work lives in :mod:`evaluation.runner` and :mod:`training`.
Bad input (unknown dataset or retrieval, no engine, missing files) ends in one clear sentence and
exit code 2, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from cli.commands.engine import EngineKind
from config.settings import REPO_ROOT, get_settings

__all__ = ["eval_command", "train_command", "train_relevance_command", "tune_command"]

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_REPORTS = REPO_ROOT / "reports"

Dataset = Annotated[str, typer.Option(help="homedepot or movielens")]
Retrieval = Annotated[
    str | None,
    typer.Option(help="candidates: bm25|knn|hybrid (homedepot), profile|genre (movielens)"),
]
DataDir = Annotated[Path, typer.Option(help="the shared data folder")]
Seed = Annotated[int, typer.Option(help="seed for splits, sampling and training")]
NoEngine = Annotated[
    bool, typer.Option("--no-engine", help="use cached episodes only (no engine MMR)")
]
Engine = Annotated[
    EngineKind,
    typer.Option("--engine", help="opensearch (default) or elasticsearch: where candidates "
                 "come from and whose native MMR is compared"),
]  # fmt: skip
Quiet = Annotated[bool, typer.Option("--quiet", help="no progress bars")]
CatalogFile = Annotated[
    Path | None,
    typer.Option("--catalog", help="a shop's own catalog (JSONL/CSV/Parquet, .gz too; the "
                 "`divrank index` columns or --fields), with --events (replay its logs) or "
                 "--judgments (its judged queries)"),
]  # fmt: skip
FieldsFile = Annotated[
    Path | None,
    typer.Option("--fields", help="--catalog's column mapping (.yaml/.toml), as `divrank index "
                 "--fields` reads it (default: the columns id, title, description, category, "
                 "brand, price, popularity)"),
]  # fmt: skip
JudgmentsFile = Annotated[
    Path | None,
    typer.Option("--judgments", help="judged queries over --catalog: Search Relevance Workbench "
                 "judgments (.json) or rows with query, item id and rating columns "
                 "(JSONL/CSV/TSV/Parquet); ratings become gains by their order"),
]  # fmt: skip
EventsFile = Annotated[
    Path | None,
    typer.Option("--events", help="replay: the events (UBI ubi_events/ubi_queries export or "
                 "our JSONL, as `divrank profiles build` reads them); needs --catalog"),
]  # fmt: skip
Cut = Annotated[
    str,
    typer.Option("--cut", help="replay: where each user's history ends: a share of their "
                 "events (0.8) or a moment for everyone (ISO-8601 or epoch seconds)"),
]  # fmt: skip
TrainMethod = Annotated[str, typer.Option(
    help="listwise (the listwise loss + λ·L_hom + μ·L_div) or policy (REINFORCE on sampled "
    "pages against the greedy page, reward NDCG@10 + μ·d·(ILD@10 + brands@10/10))")]
Temperature = Annotated[float, typer.Option(
    min=1e-4, help="--method policy: softmax temperature of sampling")]
QueriesPerUser = Annotated[
    int,
    typer.Option("--queries-per-user", min=1,
                 help="replay: category queries per user (logs without query text)"),
]  # fmt: skip


def _failures() -> tuple[type[BaseException], ...]:
    from elastic_transport import TransportError as EsTransportError
    from elasticsearch import ApiError as EsApiError
    from opensearchpy.exceptions import TransportError

    return (ValueError, FileNotFoundError, RuntimeError, TransportError, EsApiError,
            EsTransportError)  # fmt: skip


_FAILURES = _failures()


def _describe(exc: BaseException) -> str:
    from elastic_transport import TransportError as EsTransportError
    from opensearchpy.exceptions import ConnectionError as EngineConnectionError

    if isinstance(exc, EngineConnectionError):
        return f"lost the engine at {get_settings().opensearch_url}: {exc.error}"
    if isinstance(exc, EsTransportError):
        return f"lost Elasticsearch at {get_settings().elasticsearch_url}: {exc}"
    return str(exc)


# Report names that predate the engine and retrieval suffixes, or read better short.
SHORT_NAMES = {
    ("movielens", "profile", "opensearch"): "movielens",
    ("homedepot", "hybrid", "elasticsearch"): "homedepot-elasticsearch",
}


def report_name(dataset: str, retrieval: str, engine: str) -> str:
    """``<dataset>-<retrieval>`` on OpenSearch, ``<dataset>-elasticsearch-<retrieval>`` on
    Elasticsearch, with the short forms of :data:`SHORT_NAMES`."""
    short = SHORT_NAMES.get((dataset, retrieval, engine))
    if short:
        return short
    if engine == "opensearch":
        return f"{dataset}-{retrieval}"
    return f"{dataset}-{engine}-{retrieval}"


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _context(dataset: str, retrieval: str | None, data_dir: Path, no_engine: bool,
             rebuild: bool, seed: int, quiet: bool,
             engine: EngineKind = EngineKind.opensearch,
             loader: Any = None) -> dict[str, Any]:  # fmt: skip
    """Load the dataset (``loader``, else the one named ``dataset``) and its episodes
    (building them against the engine when needed)."""
    from evaluation.datasets import get_loader
    from evaluation.runner import load_or_build

    settings = get_settings()
    loader = loader or get_loader(dataset)
    dataset = loader.name
    data = loader.load(data_dir, settings.cache_dir)
    chosen = retrieval or data.retrievals[0]
    if chosen not in data.retrievals:
        _fail(f"{dataset} has no retrieval {chosen!r}; use one of {', '.join(data.retrievals)}")
    client = None
    if not no_engine:
        from config.connection import connect, connect_elasticsearch

        if engine is EngineKind.elasticsearch:
            client = connect_elasticsearch(settings)
        else:
            client = connect(settings)
    alias = f"{dataset}-eval"
    table, episodes = load_or_build(
        data, chosen, settings, settings.cache_dir, client, alias,
        rebuild=rebuild, seed=seed, progress=not quiet, say=_say, engine=engine.value,
    )  # fmt: skip
    return {"data": data, "retrieval": chosen, "table": table, "episodes": episodes,
            "client": client, "alias": alias, "settings": settings,
            "engine": engine.value}  # fmt: skip


def _knobs(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        _fail(f"--knobs must be comma-separated numbers in [0, 1], got {text!r}")
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        _fail(f"--knobs must be comma-separated numbers in [0, 1], got {text!r}")
    return values


def _load_relevance(path: Path | None, dataset: str) -> Any:
    from reranker.relevance_io import DEFAULT_RELEVANCE_MODEL, load_relevance_model

    if path is None:
        if dataset != "homedepot" or not DEFAULT_RELEVANCE_MODEL.is_file():
            return None
        path = DEFAULT_RELEVANCE_MODEL
    return load_relevance_model(path)


def _load_weights(path: Path | None) -> Any:
    if path is None:
        return None
    if not path.is_file():
        _fail(f"--weights {path} does not exist")
    from reranker import model_io

    return model_io.load_weights(path)


def eval_command(
    dataset: Dataset = "homedepot",
    retrieval: Retrieval = None,
    data_dir: DataDir = DEFAULT_DATA,
    weights: Annotated[Path | None, typer.Option(help="learned fusion weights")] = None,
    knobs: Annotated[str, typer.Option(help="diversity values (default: sweep.DEFAULT_KNOBS)")] = (
        "0,0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.5,0.6,0.7,0.8,0.9,1"
    ),
    valid_limit: Annotated[int, typer.Option(help="validation episodes (0 = all)")] = 300,
    test_limit: Annotated[int, typer.Option(help="test episodes (0 = all)")] = 1000,
    reports: Annotated[Path, typer.Option(help="report folder")] = DEFAULT_REPORTS,
    no_pyversity: Annotated[bool, typer.Option("--no-pyversity")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="re-index and re-search")] = False,
    name: Annotated[
        str | None,
        typer.Option("--report-name", help="report file stem (default from dataset, "
                     "retrieval and engine, e.g. homedepot-bm25, homedepot-elasticsearch)"),
    ] = None,
    engine: Engine = EngineKind.opensearch,
    relevance_model: Annotated[
        Path | None,
        typer.Option(help="learned relevance model for the `relevance` and `fusion-relevance` "
                     "rows (default: the shipped Home Depot model, on homedepot only)"),
    ] = None,
    no_relevance_model: Annotated[bool, typer.Option("--no-relevance-model")] = False,
    pipeline_name: Annotated[
        str | None,
        typer.Option("--pipeline", help="also send every query through this search pipeline "
                     "(installed, its sidecar running) and report it as the `pipeline` row"),
    ] = None,
    no_query_vector: Annotated[
        bool, typer.Option("--no-query-vector",
                           help="the relevance model does not see the query's vector")
    ] = False,
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
    """Compare every strategy on the same candidates over the diversity knob; write reports.

    With --catalog and --events: replay a shop's own logs (profiles from the events before the
    cut, each later search graded by what the user did on its results). With --catalog and
    --judgments: the shop's judged queries (a judgment list), graded by their ratings."""
    from evaluation.runner import (
        default_strategies,
        elasticsearch_sections,
        live_pipeline,
        run_eval,
    )

    loader = _shop_loader(catalog, events, cut, queries_per_user, judgments, fields)
    try:
        ctx = _context(dataset, retrieval, data_dir, no_engine, rebuild, seed, quiet, engine,
                       loader)  # fmt: skip
        learned = _load_weights(weights)
        # a replay ranks with a relevance model only when given one (the shipped one is Home
        # Depot's)
        skip = no_relevance_model or (loader is not None and relevance_model is None)
        relevance = None if skip else _load_relevance(relevance_model, dataset)
        if loader is not None:
            dataset = loader.short_name
            _say(f"{loader.kind}: " + ", ".join(f"{k} {v}" for k, v in loader.stats.items() if v))
        client = ctx["client"]
        strategies = default_strategies(learned, client, ctx["alias"] if client else None,
                                        pyversity=not no_pyversity, say=_say,
                                        relevance=relevance,
                                        replay=_replays(loader))  # fmt: skip
        if pipeline_name is not None:
            if client is None or engine is not EngineKind.opensearch:
                _fail("--pipeline needs the OpenSearch engine (not --no-engine)")
            history_ids = ctx["table"].ids if _replays(loader) else None
            strategies.append(live_pipeline(client, ctx["alias"], pipeline_name,
                                            ctx["retrieval"], dataset,
                                            history_ids))  # fmt: skip
        name = name or report_name(
            f"{loader.kind}-{dataset}" if loader is not None else dataset, ctx["retrieval"],
            engine.value,
        )
        native = "es-diversify" if engine is EngineKind.elasticsearch else "opensearch-mmr"
        notes = [
            f"engine: {engine.value} (candidates and `{native}`)",
            f"brand = {ctx['data'].brand_label}, category = {ctx['data'].category_label}",
            *(["shallow judgments: unjudged = unknown (see judged@10, NDCG judged@10)"]
              if ctx["data"].shallow_judgments else
              ["ground truth: held-out items rated >= 4 (unjudged = not relevant)"]
              if loader is None else []),
            *([loader.describe()] if loader is not None else []),
            f"learned fusion: {weights}" if weights else "learned fusion: not given (--weights)",
            *([f"`pipeline`: each query through search pipeline `{pipeline_name}` (OpenSearch "
               "+ divrank plugin + the running sidecar), latency a full search round trip"]
              if pipeline_name else []),
            f"learned relevance: `{relevance.version}` ("
            f"{'without' if no_query_vector else 'with'} the query vector; fusion weights "
            f"`{getattr(relevance.fusion_weights, 'version', 'defaults')}`)"
            if relevance is not None else "learned relevance: off",
            f"{native} latency is a full search round trip" if client else
            f"{native}: not run (--no-engine)",
            *(_ES_NOTES if client is not None and engine is EngineKind.elasticsearch else []),
        ]  # fmt: skip
        sections: list[str] = []
        if client is not None and engine is EngineKind.elasticsearch:
            sections = elasticsearch_sections(
                client, ctx["alias"], strategies, ctx["table"], ctx["episodes"],
                ctx["settings"].cache_dir,
            )  # fmt: skip
        outcome = run_eval(
            dataset=dataset, retrieval=ctx["retrieval"], table=ctx["table"],
            episodes=ctx["episodes"], strategies=strategies, report_dir=reports,
            report_name=name, knobs=_knobs(knobs), valid_limit=valid_limit or None,
            test_limit=test_limit or None, seed=seed, progress=not quiet, notes=notes,
            sections=sections, engine=engine.value, say=_say, relevance_model=relevance,
            query_vector=not no_query_vector,
        )  # fmt: skip
    except _FAILURES as exc:
        _fail(_describe(exc))
    typer.echo(f"wrote {outcome.markdown} and {outcome.plot}")


def _shop_loader(catalog: Path | None, events: Path | None, cut: str,
                 queries_per_user: int, judgments: Path | None,
                 fields: Path | None = None) -> Any:  # fmt: skip
    """The loader of a shop's own files: --catalog (its columns mapped by --fields) with
    --events (a replay) or with --judgments (judged queries); None without them. Bad options
    exit 2."""
    if catalog is None and events is None and judgments is None:
        if fields is not None:
            _fail("--fields maps the columns of --catalog: give --catalog too")
        return None
    if events is not None and judgments is not None:
        _fail("give --events (a log to replay) or --judgments (judged queries), not both")
    if catalog is None or (events is None and judgments is None):
        _fail("a shop's own data needs --catalog and either --events or --judgments")
    for label, path in (("--catalog", catalog), ("--events", events),
                        ("--judgments", judgments), ("--fields", fields)):  # fmt: skip
        if path is not None and not path.is_file():
            _fail(f"{label} {path} does not exist")
    from indexer.catalog import FieldMap, load_field_map

    try:
        field_map = load_field_map(fields) if fields is not None else FieldMap()
    except ValueError as exc:  # CatalogError: names the file and what is wrong
        _fail(str(exc))
    if judgments is not None:
        from evaluation.datasets.judgments import JudgmentsLoader

        return JudgmentsLoader(catalog, judgments, field_map)
    from evaluation.datasets.replay import ReplayLoader, parse_cut

    try:
        return ReplayLoader(catalog, events, parse_cut(cut), queries_per_user,  # type: ignore[arg-type]
                            field_map)  # fmt: skip
    except ValueError as exc:
        _fail(str(exc))


def _replays(loader: Any) -> bool:
    """The loader replays users' logs (histories, the buy-again baselines), not judgments."""
    return loader is not None and loader.kind == "replay"


_ES_NOTES = [
    "es-diversify = Elasticsearch's `diversify` retriever (type mmr, λ = 1 − knob) over a `knn` "
    "retriever pinned to the episode's candidates (ids filter, k = rank_window_size = their "
    "number), query_vector = the query embedding; it returns the MMR-selected 10 in the inner "
    "k-NN order, not in selection order",
    "es-diversify runs on a twin index without vectors in `_source` (copied from the evaluated "
    "index by scroll + bulk; this server has no `_reindex`): on 9.5.4 the retriever returns no "
    "hits at all from our item indices, which keep vectors in `_source` "
    "(`index.mapping.exclude_source_vectors: false`) for the hook; see the section below",
    "at knob 0 (λ = 1) es-diversify keeps the 10 candidates most similar to the query vector, "
    "in k-NN order: relevance is the embedding similarity, not the engine's (hybrid) score",
]


def train_command(
    dataset: Dataset = "homedepot",
    retrieval: Retrieval = None,
    data_dir: DataDir = DEFAULT_DATA,
    out: Annotated[Path | None, typer.Option(help="*.safetensors or small *.json path")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 15,
    lr: Annotated[float, typer.Option(min=0.0)] = 0.005,
    lam: Annotated[float, typer.Option(help="λ, weight of L_hom")] = 1.0,
    mu: Annotated[float, typer.Option(help="μ, weight of the diversity term")] = 0.5,
    params: Annotated[Path | None, typer.Option(help="JSON of loss params (from tune)")] = None,
    train_limit: Annotated[int, typer.Option(help="training lists (0 = all)")] = 2000,
    valid_limit: Annotated[int, typer.Option(help="validation lists (0 = all)")] = 300,
    log_dir: Annotated[Path | None, typer.Option(help="TensorBoard/CSV log folder")] = None,
    init: Annotated[Path | None, typer.Option(help="start from these weights")] = None,
    select_by: Annotated[
        str, typer.Option(help="epoch choice: frontier (validation sweep), ndcg (validation "
                          "NDCG@10 at knob 0: the personalised order), learned (the learned "
                          "relevance targets; needs --relevance-model) or loss")
    ] = "frontier",
    relevance_model: Annotated[
        Path | None,
        typer.Option(help="train the fusion over this relevance model's scores (starting from "
                     "the weights tuned for it unless --init)"),
    ] = None,
    method: TrainMethod = "listwise",
    temperature: Temperature = 0.05,
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
    """Learn the fusion weights on the training split, choose the epoch on the validation
    split, and save them (safetensors + JSON, or one JSON): listwise (listwise + λ·L_hom +
    μ·L_div) or policy gradient (``--method policy``). With --catalog and --events: on a
    replayed log's users (see `divrank eval`); with --catalog and --judgments: on a shop's
    judged queries."""
    if select_by not in ("frontier", "ndcg", "learned", "loss"):
        _fail(f"--select-by must be frontier, ndcg, learned or loss, got {select_by!r}")
    if method not in ("listwise", "policy"):
        _fail(f"--method must be listwise or policy, got {method!r}")
    if method == "policy" and select_by == "loss":
        _fail("--method policy has no loss to select by: use --select-by frontier, ndcg or learned")
    if select_by == "learned" and relevance_model is None:
        _fail("--select-by learned needs --relevance-model")
    loader = _shop_loader(catalog, events, cut, queries_per_user, judgments, fields)
    try:
        ctx = _context(dataset, retrieval, data_dir, no_engine, False, seed, quiet,
                       loader=loader)  # fmt: skip
        if loader is not None:
            dataset = f"{loader.kind}-{loader.short_name}"
        from evaluation.profiles import profile_from_history
        from evaluation.runner import sample
        from evaluation.sweep import build_contexts
        from training import LossConfig, TrainConfig, train

        loss = LossConfig(lam=lam, mu=mu)
        if params is not None:
            loss = LossConfig(**{**loss.__dict__, **_loss_params(params)})
        eps = ctx["episodes"]
        train_eps = sample(eps, "train", train_limit or None, seed)
        valid_eps = sample(eps, "valid", valid_limit or None, seed)
        relevance = _load_relevance(relevance_model, dataset) if relevance_model else None
        train_ctx, _ = build_contexts(train_eps, ctx["table"], profile_from_history, relevance)
        valid_ctx, valid_metrics = build_contexts(valid_eps, ctx["table"], profile_from_history,
                                                  relevance)  # fmt: skip
        if relevance is not None:  # the fusion learns over the model's scores
            from dataclasses import replace

            train_ctx = [replace(c, candidates=c.learned) for c in train_ctx]
            valid_ctx = [replace(c, candidates=c.learned) for c in valid_ctx]
        runs = log_dir or DEFAULT_REPORTS / "runs" / f"train-{dataset}-{ctx['retrieval']}"
        cfg = TrainConfig(epochs=epochs, lr=lr, seed=seed, loss=loss, log_dir=runs)
        version = f"{dataset}-{ctx['retrieval']}-seed{seed}"
        start = _load_weights(init)
        if start is None and relevance is not None:
            start = relevance.fusion_weights
        select = None
        if select_by != "loss":
            from training import frontier_scorer

            baselines = _tune_baselines() if select_by == "frontier" else []
            knobs = {"knobs": (0.0,)} if select_by == "ndcg" else {}
            select = frontier_scorer(valid_ctx, valid_metrics, ctx["table"], baselines,
                                     objective=select_by, **knobs)  # fmt: skip
        _say(f"training on {len(train_ctx)} lists, validating on {len(valid_ctx)} ({method})")
        begin = {"init": start} if start is not None else {}
        if method == "policy":
            from dataclasses import replace as with_batch

            from training.policy_gradient import PolicyConfig, train_policy

            # smaller batches: each list gives one noisy advantage, many steps learn more
            result = train_policy(train_ctx, valid_ctx, with_batch(cfg, batch=32),
                                  PolicyConfig(temperature=temperature, mu=mu), **begin,
                                  version=version, progress=_say, select=select)  # fmt: skip
        else:
            result = train(train_ctx, valid_ctx, eps.shallow, cfg, **begin,
                           version=version, progress=_say, select=select)  # fmt: skip
        target = out or ctx["settings"].cache_dir / "models" / f"fusion-{dataset}.safetensors"
        _save(target, result.weights, {
            "dataset": dataset, "retrieval": ctx["retrieval"], "seed": seed,
            "best_epoch": result.best_epoch, "start_score": result.start_score,
            "best_score": result.best_score, "loss": loss.__dict__, "lr": lr,
            "select_by": select_by, "method": method,
            **({"temperature": temperature} if method == "policy" else {}),
            "train_lists": len(train_ctx), "valid_lists": len(valid_ctx),
        })  # fmt: skip
    except _FAILURES as exc:
        _fail(_describe(exc))
    typer.echo(f"wrote {target} (best epoch {result.best_epoch}: valid score "
               f"{result.start_score:.4f} at the start, {result.best_score:.4f} chosen; "
               f"{result.log_kind} logs in {runs})")  # fmt: skip


def train_relevance_command(
    dataset: Dataset = "homedepot",
    retrievals: Annotated[
        str, typer.Option(help="comma-separated candidate sets whose windows are pooled")
    ] = "bm25,hybrid,knn",
    data_dir: DataDir = DEFAULT_DATA,
    out: Annotated[Path | None, typer.Option(help="model file (*.json)")] = None,
    rounds: Annotated[int, typer.Option(min=1, help="most trees")] = 400,
    leaves: Annotated[int, typer.Option(min=2, help="leaves per tree")] = 31,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 0.15,
    train_limit: Annotated[int, typer.Option(help="training windows per retrieval (0 = all)")] = 0,
    valid_limit: Annotated[int, typer.Option(help="validation windows per retrieval (0 = all)")]
    = 0,
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
    """Learn relevance from graded judgments (LightGBM lambdarank over request-time features),
    stopped on the validation split; the test split is never read. With --catalog and
    --events: from a shop's own logs, graded by what each user did later among a search's
    results (purchase 3 > cart 2 > click 1, as `divrank eval` replays them); with --catalog
    and --judgments: from its judgment list."""
    from evaluation.runner import sample
    from reranker.relevance_io import save_relevance_model
    from training.relevance import RelevanceConfig, train_relevance

    names = [r.strip() for r in retrievals.split(",") if r.strip()]
    if not names:
        _fail("--retrievals names no candidate set")
    loader = _shop_loader(catalog, events, cut, queries_per_user, judgments, fields)
    if loader is not None:
        dataset = f"{loader.kind}-{loader.short_name}"
    try:
        train_eps, valid_eps, table = [], [], None
        for retrieval in names:
            ctx = _context(dataset, retrieval, data_dir, no_engine, False, seed, quiet,
                           loader=loader)  # fmt: skip
            table = ctx["table"]
            train_eps += sample(ctx["episodes"], "train", train_limit or None, seed)
            valid_eps += sample(ctx["episodes"], "valid", valid_limit or None, seed)
        assert table is not None
        config = RelevanceConfig(rounds=rounds, leaves=leaves, learning_rate=learning_rate,
                                 seed=seed)  # fmt: skip
        _say(f"training on {len(train_eps)} windows ({', '.join(names)}), "
             f"validating on {len(valid_eps)}")  # fmt: skip
        model = train_relevance(train_eps, valid_eps, table, config,
                                {"dataset": dataset, "retrievals": names}, say=_say)  # fmt: skip
        target = out or Path(ctx["settings"].cache_dir) / "models" / f"relevance-{dataset}.json"
        save_relevance_model(model, target)
    except _FAILURES as exc:
        _fail(_describe(exc))
    typer.echo(f"wrote {target} ({model.metadata['trees']} trees)")


def tune_command(
    dataset: Dataset = "homedepot",
    retrieval: Retrieval = None,
    data_dir: DataDir = DEFAULT_DATA,
    trials: Annotated[int, typer.Option(min=1)] = 20,
    epochs: Annotated[int, typer.Option(min=1)] = 4,
    ild_floor: Annotated[float, typer.Option(help="ILD@10 gain floor")] = 0.30,
    cov_floor: Annotated[float, typer.Option(help="coverage@10 gain floor")] = 0.40,
    train_limit: Annotated[int, typer.Option(help="training lists, --mode train (0 = all)")] = 600,
    valid_limit: Annotated[int, typer.Option(help="validation lists (0 = all)")] = 200,
    out: Annotated[Path | None, typer.Option(help="best weights (*.safetensors or *.json)")] = None,
    mode: Annotated[str, typer.Option(help="direct (weights) or train (loss params)")] = "direct",
    init: Annotated[Path | None, typer.Option(help="base weights (direct mode)")] = None,
    objective: Annotated[str, typer.Option(
        help="direct mode: frontier (whole curve vs baselines), targets (the 97%-NDCG "
        "operating point) or learned (the fusion over the relevance model's scores: "
        ">= 1.05x engine NDCG, then ILD and brands)")] = "frontier",
    relevance_model: Annotated[Path | None, typer.Option(
        help="--objective learned: the relevance model whose scores the fusion ranks by; the "
        "tuned weights are also written into this file (its `fusion_weights`)")] = None,
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
    """optuna on the validation split: the fusion's diversity weights against the baselines'
    frontier (``--mode direct``), or the trainer's λ, μ, term weights and knob coupling
    (``--mode train``). Direct mode takes several retrievals, comma-separated
    (``--retrieval bm25,knn,hybrid``): one set of weights, scored on the mean.
    With --catalog and --events (a replayed log's users, see `divrank eval`) or --judgments
    (a shop's judged queries): there, starting from the weights given with --init (the
    frontier is then the shop's own)."""
    if mode not in ("direct", "train"):
        _fail(f"--mode must be direct or train, got {mode!r}")
    if objective not in ("frontier", "targets", "learned"):
        _fail(f"--objective must be frontier, targets or learned, got {objective!r}")
    loader = _shop_loader(catalog, events, cut, queries_per_user, judgments, fields)
    try:
        sources = (retrieval or "").split(",") if retrieval and "," in retrieval else [retrieval]
        if len(sources) > 1 and mode != "direct":
            _fail("several --retrieval values (comma-separated) need --mode direct")
        if loader is not None:
            dataset = f"{loader.kind}-{loader.short_name}"
        from evaluation.profiles import profile_from_history
        from evaluation.runner import sample
        from evaluation.sweep import build_contexts
        from training import tune, tune_weights

        relevance = None
        if objective == "learned":
            if relevance_model is None:
                _fail("--objective learned needs --relevance-model (the model file to tune for)")
            relevance = _load_relevance(relevance_model, dataset)
        sets = []
        for source in sources:
            ctx = _context(dataset, source, data_dir, no_engine, False, seed, quiet,
                           loader=loader)  # fmt: skip
            valid_ctx, valid_metrics = build_contexts(
                sample(ctx["episodes"], "valid", valid_limit or None, seed), ctx["table"],
                profile_from_history, relevance)  # fmt: skip
            sets.append((valid_ctx, valid_metrics, ctx["table"]))
        eps = ctx["episodes"]
        if mode == "direct":
            base = _load_weights(init)
            baselines = _tune_baselines(ctx["client"], ctx["alias"])
            result = tune_weights(sets, baselines, trials=trials, seed=seed, say=_say,
                                  objective=objective,
                                  **({"base": base} if base is not None else {}))  # fmt: skip
        else:
            train_ctx, _ = build_contexts(sample(eps, "train", train_limit or None, seed),
                                          ctx["table"],
                                          profile_from_history)  # fmt: skip
            result = tune(train_ctx, valid_ctx, valid_metrics, ctx["table"], eps.shallow,
                          trials=trials, seed=seed, epochs=epochs, ild_floor=ild_floor,
                          cov_floor=cov_floor, say=_say)  # fmt: skip
        target = out or ctx["settings"].cache_dir / "models" / f"tuned-{dataset}.json"
        _save(target, result.weights, {"dataset": dataset,
                                       "retrieval": ",".join(str(s) for s in sources)
                                       if len(sources) > 1 else ctx["retrieval"],
                                       "seed": seed, "mode": mode, "objective_kind": objective,
                                       "tune": result.best_params,
                                       "objective": result.best_value,
                                       "valid_lists": sum(len(v) for v, _, _ in sets)})  # fmt: skip
        params_path = target.with_name(target.stem + ".params.json")
        params_path.write_text(json.dumps(result.best_params, indent=1), encoding="utf-8")
        if relevance is not None and relevance_model is not None:
            from dataclasses import replace

            from reranker.relevance_io import save_relevance_model

            version = f"{relevance.version}-fusion-seed{seed}"
            save_relevance_model(replace(relevance, fusion_weights=replace(
                result.weights, version=version)), relevance_model)  # fmt: skip
            _say(f"fusion weights `{version}` written into {relevance_model}")
    except _FAILURES as exc:
        _fail(_describe(exc))
    typer.echo(f"best valid objective {result.best_value:.4f} after {result.trials} trials; "
          f"wrote {target} and {params_path}")  # fmt: skip


def _tune_baselines(client: Any = None, alias: str | None = None) -> list[Any]:
    """What the fusion's validation frontier is measured against (tune and train); with an
    engine (no ``--no-engine``) its native MMR too, swept once per tune, as in the report."""
    from evaluation.runner import native_mmr
    from evaluation.strategies import CoreStrategy, PyversityStrategy

    out: list[Any] = [
        CoreStrategy("mmr", "mmr"),
        CoreStrategy("dpp", "dpp"),
        PyversityStrategy("pyversity-mmr", "mmr"),
        PyversityStrategy("pyversity-dpp", "dpp"),
        PyversityStrategy("pyversity-msd", "msd"),
    ]
    if client is not None and alias is not None:
        out.append(native_mmr(client, alias, _say))
    return out


def _loss_params(path: Path) -> dict[str, float]:
    from training import LossConfig

    raw = json.loads(path.read_text(encoding="utf-8"))
    known = set(LossConfig.__dataclass_fields__)
    return {k: float(v) for k, v in raw.items() if k in known}


def _save(path: Path, weights: Any, metadata: dict[str, Any]) -> None:
    from reranker import model_io

    path.parent.mkdir(parents=True, exist_ok=True)
    model_io.save_weights(weights, path, metadata=metadata)
