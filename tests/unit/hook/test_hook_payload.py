"""The client-side hook sends what the plugin sends: each hit's title (for the sidecar's
relevance model, cut to 512 characters) and the ``relevance_model`` knob when the caller sets
it. A recording backend stands in for the sidecar (this is a unit test of the payload)."""

from __future__ import annotations

from typing import Any

import pytest

from reranker.hook.knobs import DivrankRequestError, parse_ext
from reranker.hook.search import HookConfig, divrank_search


class Engine:
    """Answers every search with the same hits, in order."""

    def __init__(self, sources: list[dict[str, Any]]) -> None:
        self.sources = sources

    def search(self, *, index: str, body: dict[str, Any]) -> Any:
        hits = [{"_index": index, "_id": f"d{i}", "_score": 10.0 - i, "_source": dict(s)}
                for i, s in enumerate(self.sources)]  # fmt: skip
        return {"hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}}


class Recorder:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def rerank(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.payloads.append(payload)
        ids = [c["id"] for c in payload["candidates"]]
        return {"ids": ids, "scores": [1.0] * len(ids), "strategy": "fusion",
                "model_version": "test"}  # fmt: skip


SOURCES = [
    {"title": "Milwaukee M18 Drill", "brand": "milwaukee"},
    {"title": ["DEWALT 20V Drill", "alt"], "brand": "dewalt"},
    {"title": "x" * 900},
    {"title": 7},
    {},
]


def test_titles_are_sent_like_the_plugin_sends_them() -> None:
    backend = Recorder()
    divrank_search(Engine(SOURCES), "items", {"query": {"match": {"title": "drill"}}},
                   reranker=backend)  # fmt: skip
    titles = [c.get("title") for c in backend.payloads[0]["candidates"]]
    assert titles == ["Milwaukee M18 Drill", "DEWALT 20V Drill", "x" * 512, None, None]
    assert "relevance_model" not in backend.payloads[0]["knobs"]  # the sidecar decides


def test_a_configured_title_field_and_the_knob() -> None:
    backend = Recorder()
    divrank_search(Engine(SOURCES), "items", {"ext": {"divrank": {"relevance_model": False}}},
                   reranker=backend, config=HookConfig(title_field="brand"))  # fmt: skip
    payload = backend.payloads[0]
    assert payload["candidates"][0]["title"] == "milwaukee"
    assert payload["knobs"]["relevance_model"] is False


def test_the_knob_must_be_a_boolean() -> None:
    with pytest.raises(DivrankRequestError, match=r"\[ext.divrank.relevance_model\]"):
        parse_ext({"relevance_model": "no"})
    assert parse_ext({"relevance_model": True}).relevance_model is True
