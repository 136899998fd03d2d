"""`divrank index --preset icecat` on a slice: mapping, documents, and k-NN that really uses
the HNSW graph and agrees with brute force on the same vectors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from cli.main import app
from config.vector_fetch import SEARCH_PARAMS, hit_vector, search_by_ids
from indexer.projection import topk

pytestmark = pytest.mark.integration
runner = CliRunner()
N = 2000


@pytest.fixture(scope="module")
def indexed(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    client = OpenSearch(engine, timeout=60)
    alias = f"t-idx-{uuid.uuid4().hex[:8]}"
    rejects = tmp_path_factory.mktemp("ice") / "rejects.jsonl"
    result = runner.invoke(
        app,
        [
            "index",
            "--preset",
            "icecat",
            "--limit",
            str(N),
            "--alias",
            alias,
            "--rejects",
            str(rejects),
            "--json",
            "--url",
            engine,
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    yield alias, report
    client.indices.delete(index=f"{alias}-*", ignore_unavailable=True)


def test_report_and_alias(engine: str, indexed: tuple[str, dict]) -> None:
    alias, report = indexed
    client = OpenSearch(engine)
    assert report["accepted"] == N and report["rejected"] == 0 and report["dim"] == 384
    assert list(client.indices.get_alias(name=alias)) == [report["index"]]
    assert client.count(index=alias)["count"] == N
    assert report["rejects_file"] is None and not Path(f"rejects-{alias}.jsonl").exists()


def test_mapping(engine: str, indexed: tuple[str, dict]) -> None:
    alias, report = indexed
    client = OpenSearch(engine)
    body = client.indices.get_mapping(index=alias)[report["index"]]["mappings"]
    props = body["properties"]
    emb = props["embedding"]
    assert emb["type"] == "knn_vector" and emb["dimension"] == 384
    assert emb["method"]["engine"] == "lucene" and emb["method"]["name"] == "hnsw"
    assert emb["method"]["space_type"] == "cosinesimil"
    assert props["title"]["type"] == "text" and props["description"]["type"] == "text"
    for field in ("category", "category_l1", "category_l2", "category_l3", "brand"):
        assert props[field]["type"] == "keyword"
    assert props["price"]["type"] == "float"
    assert body["_meta"]["divrank"]["complete"] is True
    assert body["_meta"]["divrank"]["rows"] == N
    settings = client.indices.get_settings(index=alias)[report["index"]]["settings"]["index"]
    assert settings["knn"] == "true"


def test_document_shape(engine: str, indexed: tuple[str, dict]) -> None:
    alias, _ = indexed
    doc = OpenSearch(engine).get(index=alias, id="3920564")["_source"]
    assert doc["title"].startswith("Xerox 006R90321 toner cartridge")
    assert (doc["category"], doc["category_l1"]) == ("Printing/Supplies/Toner", "Printing")
    assert doc["brand"] == "Xerox" and doc["price"] == 49.95
    assert doc["attrs"]["ean"] == ["0095205603217"]
    assert "embedding" not in doc  # vectors stay out of _source: a page never shows them
    vector = hit_vector(search_by_ids(OpenSearch(engine), alias, ["3920564"])[0], "embedding")
    assert vector is not None and vector.shape == (384,)
    assert abs(np.linalg.norm(vector) - 1) < 1e-3
    hits = OpenSearch(engine).search(
        index=alias,
        body={
            "query": {
                "bool": {
                    "must": {"match": {"title": "toner"}},
                    "filter": {"term": {"category_l2": "Supplies"}},
                }
            }
        },
    )["hits"]
    assert hits["total"]["value"] > 10


def _knn_requests(client: OpenSearch) -> int:
    stats = client.transport.perform_request("GET", "/_plugins/_knn/stats")
    return sum(int(n.get("knn_query_requests", 0)) for n in stats["nodes"].values())


def test_knn_matches_brute_force_through_the_hnsw_graph(
    engine: str, indexed: tuple[str, dict]
) -> None:
    alias, report = indexed
    client = OpenSearch(engine, timeout=60)
    ids, vectors = [], []
    body = {"size": N, "query": {"match_all": {}}, "_source": False,
            "ext": {"divrank_vectors": {"field": "embedding"}}}  # fmt: skip
    for hit in client.search(index=alias, body=body, params=SEARCH_PARAMS)["hits"]["hits"]:
        ids.append(hit["_id"])
        vectors.append(hit_vector(hit, "embedding"))
    matrix = np.asarray(vectors, dtype=np.float32)
    assert matrix.shape == (N, 384)
    rng = np.random.default_rng(7)
    queries = rng.choice(N, 30, replace=False)
    truth = topk(matrix[queries], matrix, 10)
    before = _knn_requests(client)
    overlap = []
    for q, expected in zip(queries, truth, strict=True):
        body = {
            "size": 10,
            "_source": False,
            "query": {"knn": {"embedding": {"vector": matrix[q].tolist(), "k": 10}}},
        }
        got = [h["_id"] for h in client.search(index=alias, body=body)["hits"]["hits"]]
        # An item is its own nearest neighbour, up to exact duplicates (the catalog has items
        # with identical text, hence identical vectors, whose order in a tie is arbitrary).
        top = ids.index(got[0])
        assert got[0] == ids[q] or float(matrix[top] @ matrix[q]) > 1 - 1e-6
        overlap.append(len(set(got) & {ids[i] for i in expected}) / 10)
    assert np.mean(overlap) >= 0.95, overlap
    # The plugin counted the queries, the query is the Lucene HNSW k-NN query, and the
    # segments carry an HNSW graph file (.vex).
    assert _knn_requests(client) - before >= len(queries)
    profile = client.search(
        index=alias,
        body={
            "size": 1,
            "profile": True,
            "query": {"knn": {"embedding": {"vector": matrix[0].tolist(), "k": 5}}},
        },
    )["profile"]
    types = {q["type"] for shard in profile["shards"] for q in shard["searches"][0]["query"]}
    assert any("KnnVectorQuery" in t for t in types), types
    files = client.indices.stats(
        index=report["index"], metric="segments", params={"include_segment_file_sizes": "true"}
    )
    sizes = files["_all"]["primaries"]["segments"]["file_sizes"]
    assert sizes["vex"]["size_in_bytes"] > 0
