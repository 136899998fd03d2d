"""The lean window end to end: real engine, real plugin, real sidecar, an index the indexer wrote.

With ``lean_window`` the plugin reads the window from doc values only (``item_id``, category,
brand, price, ``title.raw``, the vector) and reads the page's ``_source`` back after re-ranking.
The page must be the very page the ordinary window gives (same ids, same order, same
``_source`` as the caller filtered it), for every page, for ``_source: false``, and for the
requests that keep the ordinary window; an index without ``item_id`` still answers (engine
order, degraded), and ``divrank pipeline install`` switches the lean window on by itself only
where the indices have the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from cli import pipeline
from cli.main import app

pytestmark = pytest.mark.integration
runner = CliRunner()
Sidecar = Any


@pytest.fixture(scope="module")
def client(engine: str) -> OpenSearch:
    return OpenSearch(engine, timeout=30)


@pytest.fixture(scope="module")
def alias(icecat_alias: Callable[..., str]) -> str:
    """150 Icecat items indexed by ``divrank index`` (so with the indexer's ``item_id``)."""
    return icecat_alias("t-lean", 150)


@pytest.fixture(scope="module")
def sidecar(launch_sidecar: Callable[..., Sidecar]) -> Iterator[Sidecar]:
    side = launch_sidecar()
    yield side
    side.stop()


@pytest.fixture(scope="module")
def pipes(client: OpenSearch, alias: str, sidecar: Sidecar) -> Iterator[tuple[str, str]]:
    """(ordinary, lean) pipelines on the same sidecar, fail-open."""
    names = (f"{alias}-plain", f"{alias}-lean")
    for name, lean in zip(names, (False, True), strict=True):
        pipeline.install(
            client,
            pipeline.PipelineConfig(
                name=name, sidecar_url=sidecar.url, connect_timeout_ms=500,
                read_timeout_ms=5000, lean_window=lean,
            ),
        )  # fmt: skip
    yield names
    for name in names:
        pipeline.delete(client, name)


QUERY = {  # 87 of the 150 items match
    "multi_match": {
        "query": "hp black cartridge notebook card cable power",
        "fields": ["title", "description"],
    }
}


def _search(client: OpenSearch, index: str, body: dict[str, Any], pipe: str) -> dict[str, Any]:
    found: dict[str, Any] = client.transport.perform_request(
        "POST", f"/{index}/_search", params={"search_pipeline": pipe}, body=body
    )
    return found


def _page(found: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(hit["_id"], hit.get("_source"), hit.get("matched_queries"))
            for hit in found["hits"]["hits"]]  # fmt: skip


def _stats(client: OpenSearch) -> dict[str, Any]:
    stats: dict[str, Any] = client.transport.perform_request("GET", "/_plugins/divrank/stats")
    return stats


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"from": 10},
        {"_source": ["title", "brand"]},
        {"_source": {"excludes": ["description", "attrs"]}},
        {"_source": False},
        {"ext": {"divrank": {"diversity": 0.8, "strategy": "mmr"}}},
        {"query": {"bool": {"should": [{"match": {"title": {"query": "hp", "_name": "hp"}}},
                                       {"match": {"description": "black cable power"}}]}}},
    ],
    ids=["page1", "page2", "includes", "excludes", "no-source", "mmr", "named-query"],
)
def test_lean_page_is_the_ordinary_page(
    client: OpenSearch, alias: str, pipes: tuple[str, str], extra: dict[str, Any]
) -> None:
    plain, lean = pipes
    body = {"query": QUERY, "size": 10, **extra}
    ordinary = _search(client, alias, body, plain)
    before = _stats(client)["lean_pages"]
    leaned = _search(client, alias, body, lean)
    assert _stats(client)["lean_pages"] == before + 1, "the lean path answered"
    assert leaned["ext"]["divrank"]["applied"] is True, leaned["ext"]
    assert ordinary["ext"]["divrank"]["applied"] is True
    assert len(leaned["hits"]["hits"]) == 10
    assert _page(leaned) == _page(ordinary)
    if "query" in extra:  # the named query matched on this page, and says so on both paths
        assert any(hit.get("matched_queries") for hit in leaned["hits"]["hits"])
    for hit in leaned["hits"]["hits"]:
        assert hit["_index"].startswith(alias)
        assert "fields" not in hit, "the window's doc values are not shown"
        if extra.get("_source") is not False:
            assert "embedding" not in hit["_source"]


def test_requests_needing_the_fetch_phase_keep_the_ordinary_window(
    client: OpenSearch, alias: str, pipes: tuple[str, str]
) -> None:
    plain, lean = pipes
    body = {"query": QUERY, "size": 5, "highlight": {"fields": {"title": {}}}}
    before = _stats(client)["lean_pages"]
    leaned = _search(client, alias, body, lean)
    assert _stats(client)["lean_pages"] == before
    assert leaned["ext"]["divrank"]["applied"] is True
    assert all("highlight" in hit for hit in leaned["hits"]["hits"])
    assert _page(leaned) == _page(_search(client, alias, body, plain))


def test_an_index_without_item_id_answers_in_engine_order(
    client: OpenSearch, alias: str, pipes: tuple[str, str]
) -> None:
    _, lean = pipes
    index = f"{alias}-noid"
    mapping = {"properties": {"title": {"type": "text"}}}
    client.indices.create(index=index, body={"mappings": mapping})
    for i in range(12):
        client.index(index=index, id=f"n{i}", body={"title": f"drill model {i}"})
    client.indices.refresh(index=index)
    body = {"query": {"match": {"title": "drill"}}, "size": 4, "from": 2}
    before = _stats(client)["degraded_by_reason"].get("lean_window_no_id", 0)
    leaned = _search(client, index, body, lean)
    engine: dict[str, Any] = client.search(index=index, body=body)
    assert leaned["ext"]["divrank"]["degraded"] is True
    assert leaned["ext"]["divrank"]["reason"] == "lean_window_no_id"
    assert _page(leaned) == _page(engine)
    assert _stats(client)["degraded_by_reason"]["lean_window_no_id"] == before + 1


def test_install_turns_the_lean_window_on_where_the_indices_have_item_id(
    engine: str, client: OpenSearch, alias: str
) -> None:
    name = f"{alias}-auto"
    try:
        done = runner.invoke(app, ["pipeline", "install", "--alias", alias, "--name", name,
                                   "--url", engine])  # fmt: skip
        assert done.exit_code == 0, done.output
        assert "lean window" in done.output
        window = pipeline.get(client, name)["request_processors"][0]["divrank_window"]
        assert window["lean_window"] is True
        assert window["lean_fields"]["id"] == "item_id"
        assert pipeline.lean_window_ready(client, alias)
        assert not pipeline.lean_window_ready(client, f"{alias}-noid")
    finally:
        pipeline.delete(client, name)
