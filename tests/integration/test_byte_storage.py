"""`divrank index --storage byte` end to end: int8 vectors in the graph and in ``_source``, k-NN
answered for a query quantised with the index's scale, and the divrank pipeline re-ranking such
a window with its vectors. The bulk bench's fastest path at the default ``ef_construction``
(``bench/index_throughput.py``), so what it promises is checked here on the real engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from opensearchpy import OpenSearch, RequestError
from typer.testing import CliRunner

from cli import pipeline
from cli.main import app

pytestmark = pytest.mark.integration
Sidecar = Any  # conftest's SidecarProc


@pytest.fixture(scope="module")
def client(engine: str) -> OpenSearch:
    return OpenSearch(engine, timeout=30)


@pytest.fixture(scope="module")
def alias(icecat_alias: Callable[..., str]) -> str:
    return icecat_alias("t-byte", 150, "--storage", "byte")


@pytest.fixture(scope="module")
def pipe(engine: str, client: OpenSearch, alias: str, launch_sidecar: Callable[..., Sidecar]
         ) -> Iterator[tuple[str, Sidecar]]:  # fmt: skip
    """``divrank pipeline install --alias``: it sees the byte index and has the plugin quantise
    float query vectors."""
    side = launch_sidecar()
    name = f"{alias}-pipe"
    done = CliRunner().invoke(app, ["pipeline", "install", "--name", name, "--alias", alias,
                                    "--sidecar-url", side.url, "--read-timeout-ms", "5000",
                                    "--url", engine])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "quantised for the byte index" in done.output
    yield name, side
    pipeline.delete(client, name)
    side.stop()


def _ints(client: OpenSearch, alias: str, doc_id: str) -> list[int]:
    vector: list[int] = client.get(index=alias, id=doc_id)["_source"]["embedding"]
    return vector


def _knn(vector: list[int], k: int = 60) -> dict[str, Any]:
    return {"knn": {"embedding": {"vector": vector, "k": k}}}


def _metric(url: str, prefix: str) -> float:
    """The sum of the sidecar's metric lines starting with ``prefix``."""
    total = 0.0
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(prefix):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _degraded(url: str) -> float:
    return _metric(url, "divrank_degraded_total{")


def _vector_lookups(url: str) -> float:
    return _metric(url, 'divrank_cache_lookups_total{cache="vectors"')


def test_a_byte_index_holds_ints_and_answers_knn(client: OpenSearch, alias: str) -> None:
    mapping = next(iter(client.indices.get_mapping(index=alias).values()))["mappings"]
    assert mapping["properties"]["embedding"]["data_type"].lower() == "byte"
    assert mapping["_meta"]["divrank"]["byte_scale"] > 0  # for quantising query vectors
    first = client.search(index=alias, body={"size": 1, "sort": ["_doc"]})["hits"]["hits"][0]
    vector = first["_source"]["embedding"]
    assert len(vector) == 384 and all(isinstance(v, int) and -128 <= v <= 127 for v in vector)
    assert max(abs(v) for v in vector) > 20  # scaled to the byte range, not rounded to zero
    hits = client.search(index=alias, body={"size": 5, "query": _knn(vector, 5)})["hits"]["hits"]
    assert hits[0]["_id"] == first["_id"], "an item's own vector finds the item first"


def test_the_pipeline_reranks_a_byte_window_with_its_vectors(
    client: OpenSearch, alias: str, pipe: tuple[str, Sidecar]
) -> None:
    name, side = pipe
    first = client.search(index=alias, body={"size": 1, "sort": ["_doc"]})["hits"]["hits"][0]
    query = _knn(_ints(client, alias, first["_id"]))
    engine = client.search(index=alias, body={"size": 10, "query": query})["hits"]["hits"]
    before, lookups = _degraded(side.url), _vector_lookups(side.url)
    pages = {}
    for diversity in (0.0, 0.9):
        body = {"size": 10, "query": query,
                "ext": {"divrank": {"diversity": diversity, "strategy": "mmr"}}}  # fmt: skip
        found = client.transport.perform_request(
            "POST", f"/{alias}/_search", params={"search_pipeline": name}, body=body
        )
        ext = found["ext"]["divrank"]
        assert ext["applied"] is True and ext["degraded"] is False, ext
        pages[diversity] = [hit["_id"] for hit in found["hits"]["hits"]]
    # every candidate arrived with its vector, read by the plugin from the byte vector values:
    # nothing degraded, nothing looked up by id
    assert _degraded(side.url) == before
    assert _vector_lookups(side.url) == lookups
    assert pages[0.0] == [hit["_id"] for hit in engine]  # knob 0, no user: engine order
    assert pages[0.9] != pages[0.0] and len(set(pages[0.9])) == 10
    # the diverse page is less alike by the very vectors the index holds
    vectors = {i: np.asarray(_ints(client, alias, i), np.float32) for i in pages[0.0] + pages[0.9]}

    def mean_similarity(page: list[str]) -> float:
        unit = np.stack([vectors[i] / np.linalg.norm(vectors[i]) for i in page])
        sims = unit @ unit.T
        return float((sims.sum() - np.trace(sims)) / (len(page) * (len(page) - 1)))

    assert mean_similarity(pages[0.9]) < mean_similarity(pages[0.0])


def test_float_query_vectors_reach_a_byte_index_through_the_pipeline(
    client: OpenSearch, alias: str, pipe: tuple[str, Sidecar]
) -> None:
    """A frontend sends its model's floats as ever: the pipeline quantises them (re-ranked or
    not), and the hits are the ones the same vector quantised by hand finds."""
    name, _ = pipe
    first = client.search(index=alias, body={"size": 1, "sort": ["_doc"]})["hits"]["hits"][0]
    ints = _ints(client, alias, first["_id"])
    floats = (np.asarray(ints, np.float32) / 173.0).tolist()  # any scale: cosine ignores it
    with pytest.raises(RequestError):  # the byte field itself refuses floats
        client.search(index=alias, body={"size": 10, "query": _knn(floats)})
    by_hand = client.search(index=alias, body={"size": 10, "query": _knn(ints)})["hits"]["hits"]
    for extra in ({"ext": {"divrank": {"diversity": 0.0}}}, {"from": 95}):  # re-ranked; skipped
        body = {"size": 10, "query": _knn(floats), **extra}
        found = client.transport.perform_request(
            "POST", f"/{alias}/_search", params={"search_pipeline": name}, body=body
        )
        if "from" in extra:
            assert found["ext"]["divrank"]["applied"] is False  # beyond the window: passed through
            continue
        assert [h["_id"] for h in found["hits"]["hits"]] == [h["_id"] for h in by_hand]
