"""The search-pipeline hook end to end: real engine, real divrank plugin, real sidecar.

Each test searches through the ``divrank`` pipeline and checks the page against what the
sidecar itself answers for the same window, against the engine's own order, or against the
fail-open contract (engine order, ``ext.divrank.degraded``, latency bounded by the timeouts).
"""

from __future__ import annotations

import base64
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from cli import pipeline
from indexer.mapping import item_index_body
from reranker.contract import DEFAULT_DIVERSITY

pytestmark = pytest.mark.integration

DIM = 8
N_DOCS = 150
QUERY = {
    "function_score": {
        "query": {"match": {"title": "toner"}},
        # distinct prices give distinct scores: engine order has no ties to break
        "field_value_factor": {"field": "price"},
        "boost_mode": "replace",
    }
}


@pytest.fixture(scope="module")
def client(engine: str) -> OpenSearch:
    return OpenSearch(engine, timeout=30)


# Sidecar processes come from tests/conftest.py (``launch_sidecar``, ``sidecars``).
Sidecar = Any


@pytest.fixture(scope="module")
def sidecar(launch_sidecar: Callable[..., Sidecar]) -> Iterator[Sidecar]:
    side = launch_sidecar()
    yield side
    side.stop()


@dataclass(frozen=True)
class Catalog:
    index: str
    alias: str
    prefix: str
    vectors: dict[str, list[float]]  # as sent; the index keeps them out of _source


@pytest.fixture(scope="module")
def catalog(client: OpenSearch) -> Iterator[Catalog]:
    """A tiny catalog: near-duplicate clusters so diversity has something to change."""
    prefix = f"t-pipe-{uuid.uuid4().hex[:8]}"
    index, alias = f"{prefix}-items", f"{prefix}-alias"
    rng = np.random.default_rng(11)
    centers = rng.normal(size=(5, DIM))
    # the product's own item mapping (the indexer's), so the pipeline sees what users index
    client.indices.create(index=index, body=item_index_body(DIM, {"fixture": prefix}))
    try:
        lines: list[dict[str, Any]] = []
        vectors: dict[str, list[float]] = {}
        for i in range(N_DOCS):
            cluster = i // 30  # price grows with i: the engine's top hits are one cluster
            vec = centers[cluster] + 0.05 * rng.normal(size=DIM)
            vec /= np.linalg.norm(vec)
            lines.append({"index": {"_index": index, "_id": f"p{i}"}})
            vectors[f"p{i}"] = [round(float(x), 6) for x in vec]
            lines.append(
                {
                    "title": f"toner cartridge model {i}",
                    "category": f"printing/toner/c{cluster}",
                    "brand": f"brand{i % 7}",
                    "price": 10.0 + i,
                    "embedding": vectors[f"p{i}"],
                }
            )
        client.bulk(body=lines, refresh=True)
        client.indices.put_alias(index=index, name=alias)
        yield Catalog(index, alias, prefix, vectors)
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)


@pytest.fixture(scope="module")
def pipe(client: OpenSearch, catalog: Catalog, sidecar: Sidecar) -> Iterator[str]:
    name = f"{catalog.prefix}-pipe"
    pipeline.install(
        client,
        pipeline.PipelineConfig(
            name=name,
            sidecar_url=sidecar.url,
            connect_timeout_ms=500,
            read_timeout_ms=5000,
        ),
    )
    yield name
    pipeline.delete(client, name)


def search(
    client: OpenSearch, index: str, body: dict[str, Any], pipe_name: str | None = None
) -> dict[str, Any]:
    params = {"search_pipeline": pipe_name} if pipe_name else {}
    result: dict[str, Any] = client.transport.perform_request(
        "POST", f"/{index}/_search", params=params, body=body
    )
    return result


def ids(resp: dict[str, Any]) -> list[str]:
    return [hit["_id"] for hit in resp["hits"]["hits"]]


def sidecar_answer(
    client: OpenSearch,
    sidecar: Sidecar,
    catalog: Catalog,
    window: int,
    knobs: dict[str, Any],
    user: dict[str, Any] | None = None,
    k: int = 10,
) -> list[str]:
    """What the sidecar answers for the engine's window, built independently of the plugin:
    the first ``k`` picks counted per page of 10, as the plugin asks for pages of 10."""
    engine = search(client, catalog.index, {"size": window, "query": QUERY})
    candidates = []
    for hit in engine["hits"]["hits"]:
        src = hit["_source"]
        candidates.append(
            {
                "id": hit["_id"],
                "score": hit["_score"],
                "embedding": catalog.vectors[hit["_id"]],
                "category": src["category"],
                "brand": src["brand"],
                "price": src["price"],
                "title": src["title"],  # the plugin sends it too (the relevance model reads it)
            }
        )
    body: dict[str, Any] = {
        "query": "toner",
        "index": catalog.index,
        "candidates": candidates,
        "k": k,
        "page_size": 10,
        "knobs": knobs,
    }
    if user:
        body["user"] = user
    resp = httpx.post(f"{sidecar.url}/v1/rerank", json=body, timeout=10)
    assert resp.status_code == 200, resp.text
    answer: list[str] = resp.json()["ids"]
    return answer


def test_page_is_the_sidecar_order_for_the_same_window(
    client: OpenSearch, catalog: Catalog, sidecar: Sidecar, pipe: str
) -> None:
    knobs = {"diversity": 0.8, "strategy": "mmr"}
    resp = search(
        client, catalog.index, {"size": 10, "query": QUERY, "ext": {"divrank": knobs}}, pipe
    )
    ext = resp["ext"]["divrank"]
    assert ext["applied"] is True and ext["degraded"] is False, ext
    assert ext["window"] == 100
    expected = sidecar_answer(client, sidecar, catalog, 100, {**knobs, "explain": False})
    assert ids(resp) == expected
    engine_top = ids(search(client, catalog.index, {"size": 10, "query": QUERY}))
    assert ids(resp) != engine_top, "diversity 0.8 over 5 near-duplicate clusters changed nothing"
    for hit in resp["hits"]["hits"]:
        assert "embedding" not in hit["_source"]
        assert hit["_source"]["title"].startswith("toner")


def test_without_ext_defaults_apply_and_diversity_zero_is_engine_order_without_the_model(
    client: OpenSearch, catalog: Catalog, sidecar: Sidecar, pipe: str
) -> None:
    plain = search(client, catalog.index, {"size": 10, "query": QUERY}, pipe)
    assert plain["ext"]["divrank"]["applied"] is True
    assert plain["ext"]["divrank"]["diversity"] == DEFAULT_DIVERSITY
    default_answer = sidecar_answer(
        client, sidecar, catalog, 100, {"diversity": DEFAULT_DIVERSITY, "strategy": "fusion"}
    )
    assert ids(plain) == default_answer

    zero = search(
        client,
        catalog.index,
        {"size": 10, "query": QUERY,
         "ext": {"divrank": {"diversity": 0.0, "relevance_model": False}}},
        pipe,
    )  # fmt: skip
    engine = search(
        client, catalog.index, {"size": 10, "query": QUERY, "_source": {"excludes": ["embedding"]}}
    )
    assert zero["ext"]["divrank"]["applied"] is True
    # hit for hit the engine's own answer: ids, scores, _source (embedding stripped)
    assert zero["hits"]["hits"] == engine["hits"]["hits"]
    assert zero["hits"]["total"] == engine["hits"]["total"]
    assert zero["hits"]["max_score"] == engine["hits"]["max_score"]


def test_two_pages_have_no_duplicates_or_gaps(
    client: OpenSearch, catalog: Catalog, sidecar: Sidecar, pipe: str
) -> None:
    knobs = {"diversity": 0.7, "strategy": "dpp"}
    first = search(
        client,
        catalog.index,
        {"from": 0, "size": 10, "query": QUERY, "ext": {"divrank": knobs}},
        pipe,
    )
    second = search(
        client,
        catalog.index,
        {"from": 10, "size": 10, "query": QUERY, "ext": {"divrank": knobs}},
        pipe,
    )
    both = ids(first) + ids(second)
    assert len(both) == 20 and len(set(both)) == 20
    assert both == sidecar_answer(client, sidecar, catalog, 100, knobs, k=20)


def test_lookup_mode_gives_the_same_page(
    client: OpenSearch, catalog: Catalog, sidecar: Sidecar, pipe: str
) -> None:
    """send_embeddings=false: vectors stay out of the fetch, the sidecar reads them by id."""
    name = f"{catalog.prefix}-lookup"
    pipeline.install(client, pipeline.PipelineConfig(
        name=name, sidecar_url=sidecar.url, read_timeout_ms=5000, send_embeddings=False))
    try:
        body = {"size": 10, "query": QUERY, "ext": {"divrank": {"diversity": 0.8}}}
        lookup = search(client, catalog.index, body, name)
        sent = search(client, catalog.index, body, pipe)
        assert lookup["ext"]["divrank"]["applied"] is True
        assert ids(lookup) == ids(sent)
        assert lookup["hits"]["hits"] == sent["hits"]["hits"]
    finally:
        pipeline.delete(client, name)


def test_binary_vectors_give_the_json_page(
    client: OpenSearch, catalog: Catalog, sidecar: Sidecar, pipe: str
) -> None:
    """By default the window's vectors are read as binary and sent as ``embedding_b64``; with
    ``fetch_vectors: false`` they come through ``_source`` and go out as JSON arrays. Same page,
    hit for hit, and the binary field never reaches the caller."""
    name = f"{catalog.prefix}-json"
    config = pipeline.PipelineConfig(name=name, sidecar_url=sidecar.url, read_timeout_ms=5000)
    body = pipeline.pipeline_body(config)
    body["request_processors"][0]["divrank_window"]["fetch_vectors"] = False
    client.transport.perform_request("PUT", f"/_search/pipeline/{name}", body=body)
    try:
        for knobs in (
            {"diversity": 0.8, "strategy": "mmr"},
            {"diversity": 0.7, "strategy": "dpp"},
            {"diversity": 0.5, "strategy": "fusion", "explain": True},
        ):
            query = {"from": 2, "size": 10, "query": QUERY, "ext": {"divrank": knobs}}
            as_json = search(client, catalog.index, query, name)
            as_b64 = search(client, catalog.index, query, pipe)
            assert as_json["ext"]["divrank"]["applied"] is True
            assert as_b64["ext"]["divrank"]["applied"] is True
            assert as_b64["hits"]["hits"] == as_json["hits"]["hits"], knobs
            for hit in as_b64["hits"]["hits"]:
                assert "_divrank_vector" not in hit.get("fields", {})
                assert "embedding" not in hit["_source"]
    finally:
        pipeline.delete(client, name)


def test_fetch_phase_returns_the_stored_vectors(client: OpenSearch, catalog: Catalog) -> None:
    """``ext.divrank_vectors`` (what divrank_window adds): float32 little-endian base64 of the
    vector that was indexed, although the index keeps vectors out of ``_source``."""
    resp = search(
        client,
        catalog.index,
        {"size": 20, "query": QUERY, "ext": {"divrank_vectors": {"field": "embedding"}}},
    )
    assert len(resp["hits"]["hits"]) == 20
    for hit in resp["hits"]["hits"]:
        (encoded,) = hit["fields"]["_divrank_vector"]
        vector = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
        assert "embedding" not in hit["_source"]
        expected = np.asarray(catalog.vectors[hit["_id"]], dtype=np.float32)
        np.testing.assert_allclose(vector, expected, rtol=0, atol=1e-7, err_msg=hit["_id"])
    missing = search(
        client,
        catalog.index,
        {"size": 3, "query": QUERY, "ext": {"divrank_vectors": {"field": "title"}}},
    )
    assert all("fields" not in hit for hit in missing["hits"]["hits"])


def test_explanations_per_hit_when_asked(client: OpenSearch, catalog: Catalog, pipe: str) -> None:
    resp = search(
        client,
        catalog.index,
        {"size": 5, "query": QUERY, "ext": {"divrank": {"explain": True, "diversity": 0.6}}},
        pipe,
    )
    assert len(resp["hits"]["hits"]) == 5
    for rank, hit in enumerate(resp["hits"]["hits"]):
        (explanation,) = hit["fields"]["_divrank"]
        assert explanation["rank"] == rank
        assert isinstance(explanation["fused"], float)
        assert explanation["engine_score"] == pytest.approx(hit["_score"])
        assert "terms" in explanation


def test_the_relevance_model_ranks_through_the_pipeline(
    client: OpenSearch, catalog: Catalog, sidecar: Sidecar, pipe: str
) -> None:
    """The plugin sends each hit's title and the query; the sidecar's learned relevance ranks
    (its term is in the explanations) unless ``ext.divrank.relevance_model`` is false."""
    def page(extra: dict[str, Any]) -> dict[str, Any]:
        knobs = {"explain": True, "diversity": 0.0, **extra}
        return search(client, catalog.index,
                      {"size": 10, "query": QUERY, "ext": {"divrank": knobs}}, pipe)  # fmt: skip

    learned = page({})
    assert learned["ext"]["divrank"]["applied"] is True
    for hit in learned["hits"]["hits"]:
        (explanation,) = hit["fields"]["_divrank"]
        assert "learned_relevance" in explanation["terms"], explanation
    assert ids(learned) == sidecar_answer(
        client, sidecar, catalog, 100, {"diversity": 0.0, "strategy": "fusion"})
    off = page({"relevance_model": False})
    for hit in off["hits"]["hits"]:
        (explanation,) = hit["fields"]["_divrank"]
        assert "relevance" in explanation["terms"]
        assert "learned_relevance" not in explanation["terms"]
    assert ids(off) == ids(search(client, catalog.index, {"size": 10, "query": QUERY}))


def test_caller_source_filter_is_kept(client: OpenSearch, catalog: Catalog, pipe: str) -> None:
    resp = search(
        client, catalog.index, {"size": 3, "query": QUERY, "_source": ["title", "embedding"]}, pipe
    )
    assert resp["ext"]["divrank"]["applied"] is True
    for hit in resp["hits"]["hits"]:
        # the caller's filter holds; the vector is not in the stored _source at all
        assert set(hit["_source"]) == {"title"}
    none = search(client, catalog.index, {"size": 3, "query": QUERY, "_source": False}, pipe)
    assert none["ext"]["divrank"]["applied"] is True
    assert all("_source" not in hit for hit in none["hits"]["hits"])


@pytest.mark.parametrize(
    ("ext", "field"),
    [
        ({"diversity": 2}, "ext.divrank.diversity"),
        ({"strategy": "random"}, "ext.divrank.strategy"),
        ({"user_id": 42}, "ext.divrank.user_id"),
        ({"window_size": 0}, "ext.divrank.window_size"),
        ({"history": {"item_ids": "p1"}}, "ext.divrank.history.item_ids"),
        ({"diversty": 0.1}, "ext.divrank.diversty"),
    ],
)
def test_bad_ext_is_a_400_naming_the_field(
    client: OpenSearch, catalog: Catalog, pipe: str, ext: dict[str, Any], field: str
) -> None:
    with pytest.raises(TransportError) as caught:
        search(client, catalog.index, {"size": 5, "query": QUERY, "ext": {"divrank": ext}}, pipe)
    assert caught.value.status_code == 400
    assert f"[{field}]" in str(caught.value.info)


def test_bad_pipeline_config_is_refused_naming_the_key(
    client: OpenSearch, catalog: Catalog
) -> None:
    body = pipeline.pipeline_body(pipeline.PipelineConfig(name=f"{catalog.prefix}-bad"))
    body["response_processors"][0]["divrank"]["read_timeout_ms"] = 0
    with pytest.raises(TransportError) as caught:
        client.transport.perform_request(
            "PUT", f"/_search/pipeline/{catalog.prefix}-bad", body=body
        )
    assert caught.value.status_code == 400
    assert "read_timeout_ms" in str(caught.value.info)


def _stats(client: OpenSearch) -> dict[str, Any]:
    result: dict[str, Any] = client.transport.perform_request("GET", "/_plugins/divrank/stats")
    return result


def test_stopped_sidecar_gives_engine_order_fast_and_counts_it(
    client: OpenSearch, catalog: Catalog, sidecars: Callable[..., Sidecar]
) -> None:
    own = sidecars()
    name = f"{catalog.prefix}-stop"
    pipeline.install(
        client,
        pipeline.PipelineConfig(
            name=name, sidecar_url=own.url, connect_timeout_ms=300, read_timeout_ms=700
        ),
    )
    try:
        body = {"size": 10, "query": QUERY, "ext": {"divrank": {"diversity": 0.9}}}
        live = search(client, catalog.index, body, name)
        assert live["ext"]["divrank"]["applied"] is True
        timed = _stats(client)  # the node's own time and the sidecar's, per re-ranked search
        assert timed["processor_mean_ms"] >= timed["sidecar_mean_ms"] > 0
        own.stop()
        before = _stats(client)
        started = time.perf_counter()
        down = search(client, catalog.index, body, name)
        elapsed = time.perf_counter() - started
        engine_order = search(client, catalog.index, {"size": 10, "query": QUERY})
        ext = down["ext"]["divrank"]
        assert ext["degraded"] is True and ext["applied"] is False
        assert ext["reason"] == "sidecar_unreachable"
        assert ids(down) == ids(engine_order)
        assert elapsed < 0.3 + 0.7 + 1.0, f"degraded search took {elapsed:.2f}s"
        after = _stats(client)
        assert after["degraded"] == before["degraded"] + 1
        assert after["degraded_by_reason"]["sidecar_unreachable"] >= 1
    finally:
        own.stop()
        pipeline.delete(client, name)


def test_silent_sidecar_is_cut_off_at_the_read_timeout(
    client: OpenSearch, catalog: Catalog
) -> None:
    # A socket that accepts connections (kernel backlog) but never answers.
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        port = hole.getsockname()[1]
        name = f"{catalog.prefix}-hole"
        pipeline.install(
            client,
            pipeline.PipelineConfig(
                name=name,
                sidecar_url=f"http://127.0.0.1:{port}",
                connect_timeout_ms=200,
                read_timeout_ms=400,
            ),
        )
        try:
            started = time.perf_counter()
            resp = search(client, catalog.index, {"size": 10, "query": QUERY}, name)
            elapsed = time.perf_counter() - started
            assert resp["ext"]["divrank"]["degraded"] is True
            assert resp["ext"]["divrank"]["reason"] == "sidecar_timeout"
            assert ids(resp) == ids(search(client, catalog.index, {"size": 10, "query": QUERY}))
            assert 0.35 < elapsed < 0.2 + 0.4 + 1.0, f"took {elapsed:.2f}s"
        finally:
            pipeline.delete(client, name)


def test_fail_closed_answers_a_clear_error(
    client: OpenSearch, catalog: Catalog, free_port: Callable[[], int]
) -> None:
    name = f"{catalog.prefix}-closed"
    pipeline.install(
        client,
        pipeline.PipelineConfig(
            name=name, sidecar_url=f"http://127.0.0.1:{free_port()}", fail_open=False
        ),
    )
    try:
        with pytest.raises(TransportError) as caught:
            search(client, catalog.index, {"size": 10, "query": QUERY}, name)
        assert caught.value.status_code == 503
        assert "fail_open" in str(caught.value.info)
        assert "sidecar_unreachable" in str(caught.value.info)
    finally:
        pipeline.delete(client, name)


def test_default_pipeline_on_the_alias_reranks_plain_searches(
    client: OpenSearch, catalog: Catalog, pipe: str
) -> None:
    indices = pipeline.set_default(client, catalog.alias, pipe)
    try:
        assert indices == [catalog.index]
        setting = client.indices.get_settings(index=catalog.index)[catalog.index]["settings"]
        assert setting["index"]["search"]["default_pipeline"] == pipe
        resp = search(client, catalog.alias, {"size": 10, "query": QUERY})
        assert resp["ext"]["divrank"]["applied"] is True
    finally:
        pipeline.clear_default(client, catalog.alias)
    after = search(client, catalog.alias, {"size": 10, "query": QUERY})
    assert "ext" not in after or "divrank" not in after["ext"]


def test_the_item_prior_travels_from_the_index_to_the_sidecar(
    client: OpenSearch, pipe: str
) -> None:
    """A document's ``popularity`` field reaches the sidecar through the plugin (the
    ``popularity_field`` default) and becomes the fusion's ``popularity`` feature."""
    index = f"{pipe}-prior"
    client.indices.create(index=index, body=item_index_body(DIM, {"fixture": index}))
    try:
        lines: list[dict[str, Any]] = []
        for i in range(12):
            vec = np.zeros(DIM)
            vec[i % DIM] = 1.0
            lines.append({"index": {"_index": index, "_id": f"q{i}"}})
            lines.append({"title": "toner cartridge", "category": "printing/toner",
                          "brand": f"b{i}", "popularity": float(i * i),
                          "embedding": [float(x) for x in vec]})  # fmt: skip
        client.bulk(body=lines, refresh=True)
        knobs = {"explain": True, "diversity": 0.0, "relevance_model": False}
        resp = search(client, index, {"size": 12, "query": {"match": {"title": "toner"}},
                                      "ext": {"divrank": knobs}}, pipe)  # fmt: skip
        assert resp["ext"]["divrank"]["applied"] is True
        prior = {h["_id"]: h["fields"]["_divrank"][0]["features"]["popularity"]
                 for h in resp["hits"]["hits"]}  # fmt: skip
        assert prior["q11"] == pytest.approx(1.0) and prior["q0"] == 0.0
        assert prior["q2"] < prior["q5"] < prior["q11"]
        assert ids(resp)[0] == "q11"  # equal BM25 scores: the most popular leads
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
