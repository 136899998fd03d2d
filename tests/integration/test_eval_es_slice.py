"""End to end on a Home Depot slice against the real Elasticsearch: index, search, sweep with
the native ``diversify`` retriever, report. The same code path as OpenSearch (the engine is
read off the client); the full evaluation is ``divrank eval --engine elasticsearch``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config.connection import connect_elasticsearch
from config.settings import REPO_ROOT, get_settings
from evaluation.datasets import get_loader
from evaluation.es_diversify import ElasticsearchDiversify, twin_name
from evaluation.runner import (
    default_strategies,
    elasticsearch_sections,
    load_or_build,
    run_eval,
)
from evaluation.slicing import slice_dataset
from evaluation.sweep import build_contexts
from indexer.alias_swap import list_versions, serving_index

pytestmark = pytest.mark.integration
DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture()
def es_client(es_engine: str) -> Any:
    return connect_elasticsearch(get_settings(), url=es_engine)


@pytest.fixture()
def alias(es_client: Any) -> Iterator[str]:
    name = f"t-evales-{uuid.uuid4().hex[:8]}"
    yield name
    for version in list_versions(es_client, name):
        es_client.indices.delete(index=version.name, ignore_unavailable=True)
        es_client.indices.delete(index=twin_name(version.name), ignore_unavailable=True)


def test_es_slice_builds_episodes_and_compares_the_diversify_retriever(
    es_client: Any, alias: str, tmp_path: Path
) -> None:
    settings = get_settings()
    dataset = slice_dataset(get_loader("homedepot").load(DATA, settings.cache_dir), 30, 400)
    table, episodes = load_or_build(
        dataset, "hybrid", settings, tmp_path, es_client, alias, progress=False
    )
    assert (tmp_path / "episodes" / "homedepot-elasticsearch-hybrid.npz").is_file()
    assert len(episodes) == 30
    assert int(es_client.count(index=alias)["count"]) == len(table) <= 400
    found = sum(any(str(table.ids[r]) in e.judgments for r in e.items) for e in episodes.select())
    assert found >= 25

    strategies = default_strategies(None, es_client, alias, pyversity=False)
    native = [s for s in strategies if s.name == "es-diversify"]
    assert len(native) == 1 and isinstance(native[0], ElasticsearchDiversify)
    twin = native[0].index
    assert twin == twin_name(str(serving_index(es_client, alias)))
    assert int(es_client.count(index=twin)["count"]) == len(table)

    # λ = 1 (knob 0): the 10 most query-similar candidates, in k-NN order
    contexts, _ = build_contexts(episodes.select(limit=5), table, None)
    for ctx in contexts:
        page = native[0](ctx, 10, 0.0)
        assert len(page) == min(10, len(ctx.candidates))
        emb = table.embeddings[ctx.episode.items]
        sims = emb @ ctx.episode.query_embedding
        top = set(np.argsort(-sims, kind="stable")[: len(page)].tolist())
        assert set(page.tolist()) == top
        assert list(sims[page]) == sorted(sims[page], reverse=True)

    # the report shows one real request: no hits from the indexed version, ten from the twin
    sections = elasticsearch_sections(es_client, alias, strategies, table, episodes, tmp_path)
    shown = "\n".join(sections)
    assert '"diversify"' in shown
    assert "0 hits returned" in shown and "10 hits returned" in shown

    outcome = run_eval(
        dataset="homedepot", retrieval="hybrid", table=table, episodes=episodes,
        strategies=strategies, report_dir=tmp_path / "reports", report_name="slice-es",
        knobs=(0.0, 0.5, 1.0), valid_limit=None, test_limit=None, progress=False,
        sections=sections,
    )  # fmt: skip
    by = {(p.strategy, p.diversity): p.metrics for p in outcome.test}
    engine_order = by[("engine", 0.0)]
    assert 0.0 < engine_order["ndcg@10"] <= 1.0
    for name in ("mmr", "fusion", "es-diversify"):
        assert by[(name, 1.0)]["ild@10"] > engine_order["ild@10"], name
    assert by[("es-diversify", 1.0)]["ild@10"] > by[("es-diversify", 0.0)]["ild@10"]
    text = outcome.markdown.read_text()
    assert "| es-diversify | 1 |" in text  # knobs print as %g
    assert "## The `diversify` retriever on Elasticsearch" in text


def test_diversify_finds_nothing_in_an_index_with_vectors_in_source(
    es_client: Any, alias: str
) -> None:
    """Why the twin exists: on 9.5.4 the retriever returns no hits from our item indices
    (``index.mapping.exclude_source_vectors: false``). If this starts failing, the server
    fixed it and the twin can go."""
    from indexer.engine_dialect import ELASTICSEARCH

    dim = 3
    made = {}
    for keep in (True, False):
        name = f"{alias}-{'src' if keep else 'nosrc'}"
        es_client.indices.create(index=name, body=ELASTICSEARCH.item_index_body(
            dim, {"kind": "items"}, source_vectors=keep))  # fmt: skip
        for i, vec in enumerate(([0.9, 0.1, 0.0], [0.88, 0.12, 0.0], [0.1, 0.9, 0.1])):
            es_client.index(index=name, id=f"d{i}", document={"title": f"drill {i}",
                                                              "embedding": vec})  # fmt: skip
        es_client.indices.refresh(index=name)
        made[keep] = name
    body = {"_source": False, "retriever": {"diversify": {
        "type": "mmr", "field": "embedding", "lambda": 0.1, "size": 2, "rank_window_size": 3,
        "query_vector": [1.0, 0.0, 0.0],
        "retriever": {"knn": {"field": "embedding", "query_vector": [1.0, 0.0, 0.0], "k": 3,
                              "num_candidates": 3}}}}}  # fmt: skip
    try:
        with_source = es_client.search(index=made[True], body=body)["hits"]
        without = es_client.search(index=made[False], body=body)["hits"]
    finally:
        for name in made.values():
            es_client.indices.delete(index=name, ignore_unavailable=True)
    assert with_source["total"]["value"] == 3 and with_source["hits"] == []
    assert [h["_id"] for h in without["hits"]] == ["d0", "d2"]
