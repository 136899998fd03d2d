"""End to end on a Home Depot slice against the real engine: index, search, sweep, report.

30 queries and a few hundred products, so it stays well under a minute of work; the full
evaluation is ``divrank eval``, not a test.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config.connection import connect
from config.settings import REPO_ROOT, get_settings
from evaluation.datasets import get_loader
from evaluation.runner import default_strategies, load_or_build, run_eval
from evaluation.slicing import slice_dataset
from indexer.alias_swap import list_versions, serving_index

pytestmark = pytest.mark.integration
DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture()
def alias(engine: str) -> Iterator[str]:
    name = f"t-eval-{uuid.uuid4().hex[:8]}"
    yield name
    client = connect(get_settings(), url=engine)
    for version in list_versions(client, name):
        client.indices.delete(index=version.name, ignore_unavailable=True)


def test_slice_builds_episodes_and_a_report(engine: str, alias: str, tmp_path: Path) -> None:
    settings = get_settings()
    client = connect(settings, url=engine)
    dataset = slice_dataset(get_loader("homedepot").load(DATA, settings.cache_dir), 30, 400)
    table, episodes = load_or_build(
        dataset, "hybrid", settings, tmp_path, client, alias, progress=False
    )
    assert len(table) == len(dataset.catalog) <= 400
    assert len(episodes) == 30
    assert int(client.count(index=alias)["count"]) == len(table)
    first = episodes.episode(0)
    assert 0 < len(first.items) <= 100
    # a judged product of the query is retrievable from the slice's catalog
    found = sum(any(str(table.ids[r]) in e.judgments for r in e.items) for e in episodes.select())
    assert found >= 25

    # cached: the second call must not touch the engine
    again_table, again = load_or_build(dataset, "hybrid", settings, tmp_path, None, alias)
    np.testing.assert_array_equal(again.cand_item, episodes.cand_item)

    strategies = default_strategies(None, client, alias, pyversity=True)
    outcome = run_eval(
        dataset="homedepot", retrieval="hybrid", table=again_table, episodes=again,
        strategies=strategies, report_dir=tmp_path / "reports", report_name="slice",
        knobs=(0.0, 0.5, 1.0), valid_limit=None, test_limit=None, progress=False,
    )  # fmt: skip
    by = {(p.strategy, p.diversity): p.metrics for p in outcome.test}
    engine_order = by[("engine", 0.0)]
    assert 0.0 < engine_order["ndcg@10"] <= 1.0
    # at d = 0 without a user MMR, DPP and fusion give the engine order exactly
    for name in ("mmr", "dpp", "fusion"):
        assert by[(name, 0.0)]["ndcg@10"] == pytest.approx(engine_order["ndcg@10"])
    # at d = 1 every diversifier raises ILD over the engine order
    for name in ("mmr", "dpp", "fusion", "opensearch-mmr", "pyversity-mmr"):
        assert by[(name, 1.0)]["ild@10"] > engine_order["ild@10"], name
    text = outcome.markdown.read_text()
    assert "| opensearch-mmr | 1 |" in text  # knobs print as %g
    assert outcome.plot.read_bytes()[:4] == b"\x89PNG"


def test_episodes_built_from_other_data_files_are_rebuilt(
    engine: str, alias: str, tmp_path: Path
) -> None:
    """A held-out or fuller judgments file dropped in under the same name is never evaluated
    with the episodes, item table or index of the file before it."""
    settings = get_settings()
    client = connect(settings, url=engine)
    full = get_loader("homedepot").load(DATA, settings.cache_dir)
    assert len(full.source_key) == 16  # a digest of the judgments zip and the brand list
    first = slice_dataset(full, 20, 300)
    _, before = load_or_build(first, "bm25", settings, tmp_path, client, alias, progress=False)
    assert len(before) > 10
    served = serving_index(client, alias)
    # the same catalog and dataset name, other files: half the queries, another digest
    other = dataclasses.replace(first, requests=first.requests[:10], source_key="f" * 16)
    with pytest.raises(RuntimeError, match="built from other data files"):
        load_or_build(other, "bm25", settings, tmp_path, None, alias)
    said: list[str] = []
    _, episodes = load_or_build(other, "bm25", settings, tmp_path, client, alias,
                                progress=False, say=said.append)  # fmt: skip
    assert 0 < len(episodes) <= 10  # (a request whose search finds nothing is dropped)
    assert any("built from other data files: rebuilding" in line for line in said), said
    assert serving_index(client, alias) != served  # re-indexed, though the count is the same
    _, cached = load_or_build(other, "bm25", settings, tmp_path, None, alias)
    np.testing.assert_array_equal(cached.qids, episodes.qids)
    with pytest.raises(RuntimeError, match="built from other data files"):
        load_or_build(first, "bm25", settings, tmp_path, None, alias)


def test_the_pipeline_row_reproduces_the_learned_relevance_in_process(
    engine: str, alias: str, tmp_path: Path, launch_sidecar: Callable[..., Any]
) -> None:
    """The relevance model's gain end to end: the same BM25 requests through OpenSearch, the
    divrank plugin and a real sidecar give the pages the core gives in process (the plugin
    sends no query vector, so the in-process rows run without one too)."""
    from cli import pipeline
    from evaluation.runner import FUSION_RELEVANCE_ROW, live_pipeline
    from reranker.relevance_io import DEFAULT_RELEVANCE_MODEL, load_relevance_model

    settings = get_settings()
    client = connect(settings, url=engine)
    dataset = slice_dataset(get_loader("homedepot").load(DATA, settings.cache_dir), 30, 400)
    table, episodes = load_or_build(dataset, "bm25", settings, tmp_path, client, alias,
                                    progress=False)  # fmt: skip
    model = load_relevance_model(DEFAULT_RELEVANCE_MODEL)
    side = launch_sidecar()
    name = f"{alias}-pipe"
    try:
        pipeline.install(client, pipeline.PipelineConfig(
            name=name, sidecar_url=side.url, read_timeout_ms=5000))  # fmt: skip
        live = live_pipeline(client, alias, name, "bm25", "homedepot")
        strategies = [*default_strategies(None, None, None, pyversity=False, relevance=model),
                      live]  # fmt: skip
        outcome = run_eval(
            dataset="homedepot", retrieval="bm25", table=table, episodes=episodes,
            strategies=strategies, report_dir=tmp_path / "reports", report_name="live",
            knobs=(0.0, 0.5), valid_limit=None, test_limit=None, progress=False,
            relevance_model=model, query_vector=False,
        )  # fmt: skip
    finally:
        pipeline.delete(client, name)
        side.stop()
    by = {(p.strategy, p.diversity): p.metrics for p in outcome.test}
    assert live.outside_window == 0
    for knob in (0.0, 0.5):
        ours, through = by[(FUSION_RELEVANCE_ROW, knob)], by[("pipeline", knob)]
        for metric in ("ndcg@10", "ild@10", "brand_cov@10"):
            assert through[metric] == pytest.approx(ours[metric], rel=0.05, abs=0.02), metric
    # the model re-ranked: its page is not the engine's
    assert by[("relevance", 0.0)]["ndcg@10"] != by[("engine", 0.0)]["ndcg@10"]
    assert "| pipeline |" in outcome.markdown.read_text()
