"""The steps behind ``divrank eval``: episodes (cached or built), strategies, sweep, report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from config.settings import Settings
from evaluation.build import build_episodes, build_item_table
from evaluation.datasets import Dataset
from evaluation.episodes import Episode, EpisodeSet, ItemTable, episode_path, items_path
from evaluation.es_diversify import (
    ElasticsearchDiversify,
    diversify_twin,
    probe_section,
    twin_name,
)
from evaluation.indexing import CachedEncoder, ensure_indexed
from evaluation.live_pipeline import LivePipeline
from evaluation.opensearch_mmr import OpenSearchMMR, check_mmr_enabled
from evaluation.overlap import candidate_overlap
from evaluation.profiles import profile_from_history
from evaluation.replay_report import replay_section
from evaluation.report import (
    check_targets,
    frontier_gaps,
    relevance_section,
    write_markdown,
    write_plot,
)
from evaluation.results import SweepPoint, save_points
from evaluation.retrieval import Retriever
from evaluation.strategies import BuyAgainStrategy, CoreStrategy, PyversityStrategy, Strategy
from evaluation.sweep import DEFAULT_KNOBS, build_contexts, sweep
from indexer.alias_swap import serving_index
from indexer.engine_dialect import EngineName, dialect_of
from reranker.core.relevance_model import RelevanceModel
from reranker.core.weights import DEFAULT_WEIGHTS, FusionWeights

__all__ = [
    "CALIBRATED_WEIGHTS",
    "FUSION_RELEVANCE_ROW",
    "RELEVANCE_ROW",
    "TEXT_FIELDS",
    "EvalOutcome",
    "default_strategies",
    "elasticsearch_sections",
    "load_or_build",
    "native_mmr",
    "run_eval",
    "sample",
]

Say = Callable[[str], None]
RELEVANCE_ROW, FUSION_RELEVANCE_ROW = "relevance", "fusion-relevance"
TEXT_FIELDS = {"homedepot": ("title",), "movielens": ("title", "description")}
PYVERSITY = ("mmr", "dpp", "msd", "cover", "ssd")
BASELINES = ("mmr", "dpp", "opensearch-mmr", "es-diversify", "pyversity-mmr", "pyversity-dpp")

# The personalisation a profile of interests and label shares gives, without the item-level
# memory and without the item prior: the replay report's "interests only" row.
INTERESTS_ONLY_WEIGHTS = DEFAULT_WEIGHTS.without(
    ("repeat_affinity", "seen_by_explorer", "popularity"), version="interests-only"
)

# Steck's calibrated re-ranking as a fusion: (1 - λ)·relevance + λ·calibration gain, λ = 0.7·d
# (the same relevance floor as the core's MMR mapping).
CALIBRATED_WEIGHTS = FusionWeights.from_mapping(
    {"relevance": 1.0}, {"relevance": -0.7, "calibration": 0.7}, version="calibrated"
)


def load_or_build(
    dataset: Dataset,
    retrieval: str,
    settings: Settings,
    episode_dir: Path,
    client: Any | None,
    alias: str,
    *,
    rebuild: bool = False,
    depth: int = 100,
    seed: int = 0,
    progress: bool = True,
    say: Say = lambda _: None,
    engine: EngineName | None = None,
) -> tuple[ItemTable, EpisodeSet]:
    """Cached item table and episodes, or index + embed + search to build them.

    ``engine`` names the episode file (default: the client's engine, else OpenSearch); the
    item table is shared by both engines (same catalog, same vectors).
    """
    engine = engine or (dialect_of(client).name if client is not None else "opensearch")
    table_file = items_path(episode_dir, dataset.name)
    eps_file = episode_path(episode_dir, dataset.name, retrieval, engine)
    key = dataset.source_key
    if not rebuild and _built_from(table_file, key) and _built_from(eps_file, key):
        return ItemTable.load(table_file), EpisodeSet.load(eps_file)
    stale = not rebuild and eps_file.is_file() and not _built_from(eps_file, key)
    if client is None:
        why = "were built from other data files" if stale else "are missing"
        raise RuntimeError(f"the episodes at {eps_file} {why}, and there is no engine to "
                           "build them from")  # fmt: skip
    if stale:
        say(f"the cached {dataset.name} episodes were built from other data files: rebuilding")
    encoder = CachedEncoder(settings)
    if _built_from(table_file, key) and not rebuild:
        table = ItemTable.load(table_file)
    else:
        say(f"embedding {len(dataset.catalog)} {dataset.name} items (indexer cache)")
        table = build_item_table(dataset, encoder.catalog_vectors(dataset.catalog), encoder.key)
        table.save(table_file)
        _stamp(table_file, key)
    say(f"indexing {dataset.name} into {engine} alias {alias}")
    index = ensure_indexed(client, dataset.catalog, alias, settings, dataset.name,
                           force=rebuild, progress=progress,
                           with_prior=dataset.item_prior, source_key=key)  # fmt: skip
    retriever = Retriever(client, index, TEXT_FIELDS.get(dataset.name, ("title", "description")))
    say(f"searching {len(dataset.requests)} requests ({retrieval}, top {depth})")
    episodes, dropped = build_episodes(dataset, table, retriever, retrieval, encoder, depth, seed)
    for reason, count in dropped.items():
        if count:
            say(f"dropped {count} requests: {reason}")
    episodes.save(eps_file)
    _stamp(eps_file, key)
    return table, episodes


def _stamp_path(cache_file: Path) -> Path:
    return cache_file.with_name(cache_file.name + ".source")


def _built_from(cache_file: Path, key: str) -> bool:
    """``cache_file`` exists and was built from the data files ``key`` names (any, for fixed
    data: ``key == ""``)."""
    if not cache_file.is_file():
        return False
    if not key:
        return True
    stamp = _stamp_path(cache_file)
    return stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == key


def _stamp(cache_file: Path, key: str) -> None:
    stamp = _stamp_path(cache_file)
    if key:
        stamp.write_text(key + "\n", encoding="utf-8")
    else:
        stamp.unlink(missing_ok=True)


def sample(episodes: EpisodeSet, split: str, limit: int | None, seed: int) -> list[Episode]:
    """A seeded random subset of one split (all of it without a limit), in file order."""
    rows = [i for i in range(len(episodes)) if episodes.splits[i] == split]
    if limit is not None and limit < len(rows):
        rng = np.random.default_rng(seed)
        rows = sorted(rng.choice(rows, size=limit, replace=False).tolist())
    return [episodes.episode(i) for i in rows]


def default_strategies(
    learned: FusionWeights | None,
    client: Any | None,
    index: str | None,
    pyversity: bool = True,
    say: Say = lambda _: None,
    relevance: RelevanceModel | None = None,
    replay: bool = False,
) -> list[Strategy]:
    """Engine order, personalized-only, MMR, DPP, calibrated, fusion (default and learned),
    with ``replay`` (users with item histories) the buy-again and interests-only baselines,
    with ``relevance`` the model alone and the fusion over its scores (with the weights tuned
    for it), the
    engine's native MMR (with an engine: OpenSearch ``ext.mmr`` or Elasticsearch's
    ``diversify`` retriever; ``index`` is the evaluated alias) and pyversity's strategies."""
    out: list[Strategy] = [
        CoreStrategy("engine", "engine", knob_sensitive=False),
        CoreStrategy("personalized", "personalized", knob_sensitive=False),
        CoreStrategy("mmr", "mmr"),
        CoreStrategy("dpp", "dpp"),
        CoreStrategy("calibrated", "fusion", weights=CALIBRATED_WEIGHTS),
        CoreStrategy("fusion", "fusion"),
    ]
    if replay:
        out += [
            BuyAgainStrategy(),
            CoreStrategy("interests-only", "personalized", knob_sensitive=False,
                         weights=INTERESTS_ONLY_WEIGHTS),
        ]  # fmt: skip
    if learned is not None:
        out.append(CoreStrategy("learned", "fusion", weights=learned))
    if relevance is not None:
        out += [
            CoreStrategy(RELEVANCE_ROW, "fusion", knob_sensitive=False, learned_relevance=True),
            CoreStrategy(FUSION_RELEVANCE_ROW, "fusion", weights=relevance.fusion_weights,
                         learned_relevance=True),
        ]
    if client is not None and index is not None:
        out.append(native_mmr(client, index, say))
    if pyversity:
        out += [PyversityStrategy(f"pyversity-{name}", name) for name in PYVERSITY]
    return out


def live_pipeline(
    client: Any, alias: str, pipeline: str, retrieval: str, dataset: str,
    history_ids: Any = None,
) -> LivePipeline:  # fmt: skip
    """The ``pipeline`` row: the episode's own request through ``pipeline`` on ``alias``
    (with ``history_ids``, the item table's ids: each user's history travels along)."""
    if retrieval not in ("bm25", "knn"):
        raise ValueError(f"the pipeline row runs bm25 or knn candidates, not {retrieval!r}")
    from opensearchpy.exceptions import NotFoundError

    try:
        client.search_pipeline.get(id=pipeline)
    except NotFoundError:
        raise ValueError(
            f"no search pipeline {pipeline!r}: `divrank pipeline install --name {pipeline}` it "
            "(and start its sidecar) first"
        ) from None
    retriever = Retriever(client, alias, TEXT_FIELDS.get(dataset, ("title", "description")))
    return LivePipeline(client, alias, pipeline, retriever, retrieval, history_ids=history_ids)


def native_mmr(client: Any, alias: str, say: Say = lambda _: None) -> Strategy:
    """The engine's own MMR on the evaluated alias, ready to run (checked or prepared)."""
    if dialect_of(client).name == "elasticsearch":
        serving = serving_index(client, alias)
        if serving is None:
            raise RuntimeError(f"no index behind Elasticsearch alias {alias}")
        say(f"diversify retriever: preparing {twin_name(serving)} (vectors out of _source)")
        return ElasticsearchDiversify(client, diversify_twin(client, serving, alias))
    check_mmr_enabled(client)
    return OpenSearchMMR(client, alias)


def elasticsearch_sections(
    client: Any,
    alias: str,
    strategies: Sequence[Strategy],
    table: ItemTable,
    episodes: EpisodeSet,
    episode_dir: Path,
) -> list[str]:
    """Report sections of an Elasticsearch run: the ``diversify`` request shown against the
    evaluated index and its twin, and how Elasticsearch's candidates compare with
    OpenSearch's (when those episodes are cached)."""
    lines: list[str] = []
    native = [s for s in strategies if isinstance(s, ElasticsearchDiversify)]
    serving = serving_index(client, alias)
    if native and serving is not None:
        chosen = episodes.select("test", limit=1) or episodes.select(limit=1)
        contexts, _ = build_contexts(chosen, table, None)
        lines += probe_section(client, serving, native[0], contexts[0])
    other = episode_path(episode_dir, episodes.dataset, episodes.retrieval, "opensearch")
    if other.is_file():
        o = candidate_overlap(episodes, EpisodeSet.load(other))
        lines += [
            "",
            "## Candidates: Elasticsearch against OpenSearch",
            "",
            f"Same catalog, same vectors, same requests ({o.requests} in both), "
            f"`{episodes.retrieval}` on each engine: the top-100 windows share "
            f"{o.jaccard:.1%} of their items (mean Jaccard), the first {o.k} share "
            f"{o.top_k:.1%}, and {o.same_first:.1%} of requests have the same first item. "
            f"The OpenSearch run is `reports/{episodes.dataset}-{episodes.retrieval}.md`.",
        ]
    return lines


@dataclass(frozen=True)
class EvalOutcome:
    valid: list[SweepPoint]
    test: list[SweepPoint]
    markdown: Path
    plot: Path


def run_eval(
    *,
    dataset: str,
    retrieval: str,
    table: ItemTable,
    episodes: EpisodeSet,
    strategies: Sequence[Strategy],
    report_dir: Path,
    report_name: str,
    knobs: Sequence[float] = DEFAULT_KNOBS,
    valid_limit: int | None = 300,
    test_limit: int | None = 1000,
    seed: int = 0,
    progress: bool = True,
    notes: Sequence[str] = (),
    sections: Sequence[str] = (),
    engine: str = "opensearch",
    say: Say = lambda _: None,
    relevance_model: RelevanceModel | None = None,
    query_vector: bool = True,
) -> EvalOutcome:
    """Sweep validation (to choose operating points) and test (to report) and write both files."""
    results: dict[str, list[SweepPoint]] = {}
    counts = {}
    for split, limit in (("valid", valid_limit), ("test", test_limit)):
        chosen = sample(episodes, split, limit, seed)
        if not chosen:
            raise ValueError(f"no {split} episodes in {dataset}/{retrieval}")
        counts[split] = len(chosen)
        say(f"{split}: {len(chosen)} episodes")
        contexts, metric_contexts = build_contexts(
            chosen, table, profile_from_history, relevance_model, query_vector
        )
        results[split] = sweep(contexts, metric_contexts, table, strategies, knobs, progress)
    ours = [s.name for s in strategies if s.name in ("fusion", "learned", FUSION_RELEVANCE_ROW)]
    gaps = {name: frontier_gaps(results["test"], name, BASELINES) for name in ours}
    md = report_dir / f"{report_name}.md"
    png = report_dir / f"{report_name}-frontier.png"
    split_sizes = {name: int(np.sum(episodes.splits == name)) for name in ("test", "valid")}
    all_notes = [
        f"dataset `{dataset}`, candidates from `{retrieval}` (top {episodes_depth(episodes)} "
        f"per request), {counts['test']} test / {counts['valid']} validation episodes "
        f"(seeded sample of the {split_sizes['test']} test / {split_sizes['valid']} validation "
        f"episodes; {len(episodes)} episodes in all), "
        f"seed {seed}, knobs {', '.join(f'{k:g}' for k in knobs)}",
        *notes,
    ]
    where = "" if engine == "opensearch" else f" on {engine.capitalize()}"
    title = f"divrank accuracy-diversity frontier: {dataset} ({retrieval}{where})"
    learned = relevance_section(results["valid"], results["test"])
    learned += replay_section(results["valid"], results["test"])
    write_markdown(md, title=title, notes=all_notes, test=results["test"],
                   targets=check_targets(results["valid"], results["test"]), gaps=gaps,
                   sections=[*learned, *sections])  # fmt: skip
    write_plot(png, title, results["test"])
    save_points(report_dir / "runs" / f"{report_name}-test.json", results["test"])
    save_points(report_dir / "runs" / f"{report_name}-valid.json", results["valid"])
    return EvalOutcome(results["valid"], results["test"], md, png)


def episodes_depth(episodes: EpisodeSet) -> int:
    sizes = np.diff(episodes.cand_ptr)
    return int(sizes.max()) if sizes.size else 0
