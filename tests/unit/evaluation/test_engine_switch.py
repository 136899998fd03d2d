"""The engine switch of the evaluation: request shapes, file names and the diversify twin,
checked without an engine (fake clients record what would be sent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli.commands.evaluate import report_name
from evaluation import es_diversify
from evaluation.episodes import Episode, episode_path
from evaluation.es_diversify import ElasticsearchDiversify, diversify_twin, twin_name
from evaluation.retrieval import QuerySpec, Retriever
from evaluation.strategies import RerankContext
from reranker.core.types import Candidates

SPEC = QuerySpec(text="cordless drill", vector=np.array([0.6, 0.8], np.float32), exclude=("7",))


def test_elasticsearch_knn_body_is_the_top_level_knn_section() -> None:
    body = Retriever(client=None, index="x", engine="elasticsearch").knn_body(SPEC, 100)
    assert "query" not in body
    knn = body["knn"]
    assert knn["field"] == "embedding"
    assert knn["k"] == 100 and knn["num_candidates"] == 100
    assert knn["query_vector"] == pytest.approx([0.6, 0.8])
    assert knn["filter"] == {"bool": {"must_not": [{"ids": {"values": ["7"]}}]}}
    assert body["size"] == 100 and body["_source"] is False


def test_bm25_body_is_the_same_for_both_engines() -> None:
    es = Retriever(client=None, index="x", engine="elasticsearch").bm25_body(SPEC, 50)
    os_ = Retriever(client=None, index="x", engine="opensearch").bm25_body(SPEC, 50)
    assert es == os_


def test_engine_is_read_off_the_client() -> None:
    from elasticsearch import Elasticsearch

    client = Elasticsearch("http://127.0.0.1:1")  # never contacted
    assert Retriever(client, "x").engine == "elasticsearch"
    assert Retriever(object(), "x").engine == "opensearch"


class _MsearchClient:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def msearch(self, body: list[dict[str, Any]]) -> dict[str, Any]:
        self.lines += body
        hits = [{"_id": "a", "_score": 2.0}, {"_id": "b", "_score": 1.0}]
        return {"responses": [{"hits": {"hits": hits}} for _ in body[::2]]}


def test_hybrid_on_elasticsearch_sends_bm25_and_knn_and_fuses() -> None:
    client = _MsearchClient()
    out = Retriever(client, "idx", engine="elasticsearch").search("hybrid", [SPEC], 10)
    bodies = client.lines[1::2]
    assert [("query" in b, "knn" in b) for b in bodies] == [(True, False), (False, True)]
    assert [d for d, _ in out[0]] == ["a", "b"]


def test_episode_files_per_engine(tmp_path: Path) -> None:
    assert episode_path(tmp_path, "homedepot", "bm25").name == "homedepot-bm25.npz"
    es = episode_path(tmp_path, "homedepot", "hybrid", "elasticsearch")
    assert es.name == "homedepot-elasticsearch-hybrid.npz"


@pytest.mark.parametrize(
    ("dataset", "retrieval", "engine", "expected"),
    [
        ("homedepot", "hybrid", "opensearch", "homedepot-hybrid"),
        ("homedepot", "bm25", "opensearch", "homedepot-bm25"),
        ("homedepot", "knn", "opensearch", "homedepot-knn"),
        ("homedepot", "hybrid", "elasticsearch", "homedepot-elasticsearch"),
        ("homedepot", "bm25", "elasticsearch", "homedepot-elasticsearch-bm25"),
        ("movielens", "profile", "opensearch", "movielens"),
        ("movielens", "genre", "opensearch", "movielens-genre"),
    ],
)
def test_report_names(dataset: str, retrieval: str, engine: str, expected: str) -> None:
    assert report_name(dataset, retrieval, engine) == expected


def _context(ids: list[str], query: np.ndarray | None) -> RerankContext:
    n = len(ids)
    episode = Episode(
        qid="q1", query="drill", user_id="", split="test",
        items=np.arange(n, dtype=np.int32), scores=np.linspace(1, 0, n).astype(np.float32),
        query_embedding=query, judgments={}, history=np.zeros(0, np.int32),
    )  # fmt: skip
    cands = Candidates(ids=ids, scores=episode.scores)
    return RerankContext(episode, cands, None, np.linspace(1, 0, n))


def test_diversify_request_pins_the_candidates_and_maps_the_knob() -> None:
    ctx = _context(["a", "b", "c", "d"], np.array([1.0, 0.0], np.float32))
    body = ElasticsearchDiversify(client=None, index="twin").body(ctx, 10, 0.3)
    div = body["retriever"]["diversify"]
    assert div["type"] == "mmr" and div["field"] == "embedding"
    assert div["lambda"] == pytest.approx(0.7)  # λ = 1 - diversity: 1 = relevance only
    assert div["size"] == 4 and div["rank_window_size"] == 4  # never more than the window
    assert div["query_vector"] == [1.0, 0.0]
    inner = div["retriever"]["knn"]
    assert inner["filter"] == {"ids": {"values": ["a", "b", "c", "d"]}}
    assert inner["k"] == inner["num_candidates"] == 4


def test_diversify_needs_a_query_vector() -> None:
    with pytest.raises(ValueError, match="no query vector"):
        ElasticsearchDiversify(client=None, index="twin").body(_context(["a"], None), 10, 0.5)


class _SearchClient:
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.index = index
        return {"hits": {"hits": [{"_id": "c"}, {"_id": "zz"}, {"_id": "a"}]}}


def test_diversify_maps_hits_back_to_candidate_positions() -> None:
    client = _SearchClient()
    order = ElasticsearchDiversify(client, "twin")(_context(["a", "b", "c"], np.ones(2)), 10, 0.5)
    assert order.tolist() == [2, 0]  # unknown ids are dropped
    assert client.index == "twin"


class _Indices:
    def __init__(self, parent: _TwinClient) -> None:
        self.parent = parent

    def exists(self, index: str) -> bool:
        return index in self.parent.docs

    def delete(self, index: str) -> None:
        self.parent.deleted.append(index)
        self.parent.docs.pop(index, None)

    def get_mapping(self, index: str) -> dict[str, Any]:
        field = {"type": "dense_vector", "dims": 2, "index_options": {"type": "hnsw", "m": 8}}
        return {index: {"mappings": {"properties": {"embedding": field}}}}

    def create(self, index: str, body: dict[str, Any]) -> None:
        self.parent.created[index] = body
        self.parent.docs[index] = 0

    def put_settings(self, index: str, body: dict[str, Any]) -> None:
        self.parent.settings[index] = body

    def refresh(self, index: str) -> None:
        return None

    def get(self, index: str, ignore_unavailable: bool) -> dict[str, Any]:
        return {name: {} for name in self.parent.docs if name.endswith("-diversify")}


class _TwinClient:
    def __init__(self, docs: dict[str, int]) -> None:
        self.docs = dict(docs)
        self.created: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, Any] = {}
        self.deleted: list[str] = []
        self.reindexed: list[tuple[str, str]] = []
        self.indices = _Indices(self)

    def count(self, index: str) -> dict[str, int]:
        return {"count": self.docs[index]}


@pytest.fixture()
def fake_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    def copy(client: _TwinClient, source: str, target: str) -> None:
        client.reindexed.append((source, target))
        client.docs[target] = client.docs[source]

    monkeypatch.setattr(es_diversify, "copy_documents", copy)


@pytest.mark.usefixtures("fake_copy")
def test_twin_keeps_vectors_out_of_source_and_drops_older_twins() -> None:
    client = _TwinClient({"hd-eval-2": 40, "hd-eval-1-diversify": 39})
    twin = diversify_twin(client, "hd-eval-2", "hd-eval")
    assert twin == twin_name("hd-eval-2") == "hd-eval-2-diversify"
    settings = client.created[twin]["settings"]["index"]
    assert settings["mapping.exclude_source_vectors"] is True
    emb = client.created[twin]["mappings"]["properties"]["embedding"]
    assert emb["type"] == "dense_vector" and emb["dims"] == 2
    assert emb["index_options"]["m"] == 8
    assert client.reindexed == [("hd-eval-2", twin)]
    assert client.settings[twin] == {"index": {"refresh_interval": None}}
    assert client.deleted == ["hd-eval-1-diversify"]


@pytest.mark.usefixtures("fake_copy")
def test_twin_is_reused_when_complete() -> None:
    client = _TwinClient({"hd-eval-2": 40, "hd-eval-2-diversify": 40})
    assert diversify_twin(client, "hd-eval-2", "hd-eval") == "hd-eval-2-diversify"
    assert client.created == {} and client.reindexed == []


def test_twin_refuses_an_index_without_a_vector_field() -> None:
    client = _TwinClient({"hd-eval-2": 40})
    client.indices.get_mapping = lambda index: {index: {"mappings": {"properties": {}}}}  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="no dense_vector field 'embedding'"):
        diversify_twin(client, "hd-eval-2", "hd-eval")


def _episode_set(windows: dict[str, list[int]]) -> Any:
    from evaluation.episodes import EpisodeSet

    eps = [
        Episode(
            qid=q, query=q, user_id="", split="test", items=np.array(w, np.int32),
            scores=np.ones(len(w), np.float32), query_embedding=None, judgments={},
            history=np.zeros(0, np.int32),
        )
        for q, w in windows.items()
    ]
    return EpisodeSet.from_episodes("homedepot", "hybrid", True, eps, dim=2)


def test_candidate_overlap_by_hand() -> None:
    from evaluation.overlap import candidate_overlap

    a = _episode_set({"q1": [1, 2, 3, 4], "q2": [5, 6], "only-a": [9]})
    b = _episode_set({"q1": [2, 1, 3, 7], "q2": [5, 6], "only-b": [9]})
    o = candidate_overlap(a, b, k=2)
    assert o.requests == 2
    assert o.jaccard == pytest.approx((3 / 5 + 1.0) / 2)
    assert o.top_k == pytest.approx((2 / 2 + 2 / 2) / 2)
    assert o.same_first == pytest.approx(0.5)


class _ProbeClient:
    class _Nodes:
        def info(self, filter_path: str) -> dict[str, Any]:
            return {"nodes": {"n1": {"version": "9.5.4"}}}

    def __init__(self) -> None:
        self.nodes = self._Nodes()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((index, body))
        hits = [] if index == "primary" else [{"_id": "a"}, {"_id": "c"}]
        return {"took": 3, "hits": {"total": {"value": 8}, "hits": hits}}


def test_probe_section_sends_one_request_to_both_indices_and_shows_it() -> None:
    from evaluation.es_diversify import probe_section

    client = _ProbeClient()
    ids = [f"p{i}" for i in range(8)]
    strategy = ElasticsearchDiversify(client, "primary-diversify")
    lines = probe_section(client, "primary", strategy, _context(ids, np.ones(8, np.float32)))
    assert [i for i, _ in client.sent] == ["primary", "primary-diversify"]
    assert client.sent[0][1] == client.sent[1][1]  # the same request to both
    text = "\n".join(lines)
    assert "Elasticsearch 9.5.4" in text
    assert '"type": "mmr"' in text and "… 8 ids in all" in text
    assert "`hits.total.value` = 8, 0 hits returned" in text
    assert "2 hits returned: a, c" in text


class _ClusterSettings:
    def __init__(self, factories: list[str]) -> None:
        self.factories = factories

    def get_settings(self, **_: Any) -> dict[str, Any]:
        key = "cluster.search.enabled_system_generated_factories"
        return {"persistent": {}, "transient": {}, "defaults": {key: self.factories}}


class _SettingsClient:
    def __init__(self, factories: list[str]) -> None:
        self.cluster = _ClusterSettings(factories)


def test_tune_measures_against_the_engines_mmr_when_there_is_an_engine() -> None:
    from cli.commands.evaluate import _tune_baselines
    from evaluation.opensearch_mmr import OpenSearchMMR, OpenSearchUnavailable

    offline = [s.name for s in _tune_baselines()]
    assert "opensearch-mmr" not in offline and {"mmr", "dpp", "pyversity-msd"} <= set(offline)
    client = _SettingsClient(["mmr_over_sample_factory", "mmr_rerank_factory"])
    online = _tune_baselines(client, "homedepot-eval")
    assert [s.name for s in online] == [*offline, "opensearch-mmr"]
    native = online[-1]
    assert isinstance(native, OpenSearchMMR) and native.index == "homedepot-eval"
    with pytest.raises(OpenSearchUnavailable, match="mmr_rerank_factory"):
        _tune_baselines(_SettingsClient([]), "homedepot-eval")
