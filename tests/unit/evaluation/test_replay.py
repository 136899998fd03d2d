"""Replay of a shop's logs: the time cut, the searches it makes, the grades, bad options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.datasets.replay import Cut, ReplayLoader, parse_cut, split_user
from evaluation.episodes import Episode, ItemTable
from evaluation.strategies import BuyAgainStrategy, RerankContext
from evaluation.sweep import candidates_of
from indexer.events import Event
from reranker.core.types import Candidates

DAY = 86400.0


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def shop(tmp_path: Path) -> tuple[Path, Path]:
    catalog = _write(tmp_path / "catalog.jsonl", [
        {"id": "milk1", "title": "whole milk", "category": "dairy/milk", "brand": "farm"},
        {"id": "milk2", "title": "oat milk", "category": "dairy/milk", "brand": "oaty"},
        {"id": "tea1", "title": "green tea", "category": "drinks/tea", "brand": "leaf"},
        {"id": "tea2", "title": "black tea", "category": "drinks/tea", "brand": "leaf"},
    ])  # fmt: skip
    events = [
        {"user_id": "u1", "item_id": "milk1", "type": "purchase", "ts": 1 * DAY},
        {"user_id": "u1", "item_id": "milk1", "type": "purchase", "ts": 2 * DAY},
        {"user_id": "u1", "item_id": "tea1", "type": "view", "ts": 3 * DAY},
        {"user_id": "u1", "item_id": "milk1", "type": "purchase", "ts": 4 * DAY},
        {"user_id": "u1", "item_id": "tea2", "type": "click", "ts": 5 * DAY},
        {"user_id": "u1", "item_id": "gone", "type": "purchase", "ts": 5 * DAY},
        {"user_id": "u2", "item_id": "tea1", "type": "purchase", "ts": 1 * DAY},
    ]
    return catalog, _write(tmp_path / "events.jsonl", events)


def test_no_later_event_reaches_the_profile() -> None:
    events = [Event("u", f"i{k}", "purchase", float(k // 2)) for k in range(10)]  # ties
    for cut in (Cut(share=0.5), Cut(share=0.8), Cut(at=3.0)):
        history, later, at = split_user(events, cut)
        assert history and later
        assert max(e.ts for e in history) < at <= min(e.ts for e in later)
        assert len(history) + len(later) == len(events)


def test_category_queries_graded_by_what_came_later(shop: tuple[Path, Path]) -> None:
    loader = ReplayLoader(*shop, cut=Cut(at=4 * DAY))
    data = loader.load(Path("."), Path("."))
    (request,) = data.requests  # u2 has nothing after the cut
    assert request.user_id == "u1" and request.group == "u1" and request.window_only
    assert request.history == ("milk1", "milk1", "tea1")
    assert len(request.history_weights) == 3
    assert request.history_weights[0] < request.history_weights[1]  # older weighs less
    assert request.history_weights[2] < request.history_weights[1]  # a view < a purchase
    assert request.query == "milk"  # the leaf category of what they bought later
    assert request.judgments == {"milk1": 3, "tea2": 1}
    assert loader.stats["events on items not in the catalog"] == 1
    assert loader.stats["users without events after the cut"] == 1
    assert data.catalog.popularity[data.catalog.ids.index("milk1")] == pytest.approx(0.5)


def test_ubi_searches_become_requests(tmp_path: Path, shop: tuple[Path, Path]) -> None:
    catalog, _ = shop
    lines = []
    for n, (item, action, day, qid) in enumerate([
        ("milk1", "purchase", 1, "q1"),
        ("tea1", "click", 5, "q2"),
        ("tea2", "add_to_cart", 6, "q2"),
    ]):  # fmt: skip
        lines += [{"index": {"_index": "ubi_queries"}},
                  {"query_id": qid, "user_query": f"query {qid}", "client_id": "c1"},
                  {"index": {"_index": "ubi_events"}},
                  {"action_name": action, "client_id": "c1", "query_id": qid,
                   "timestamp": day * DAY + n,
                   "event_attributes": {"object": {"object_id": item}}}]  # fmt: skip
    loader = ReplayLoader(catalog, _write(tmp_path / "ubi.ndjson", lines), cut=Cut(at=4 * DAY))
    (request,) = loader.load(Path("."), Path(".")).requests
    assert request.query == "query q2"
    assert request.judgments == {"tea1": 1, "tea2": 2}
    assert request.history == ("milk1",)


def test_bad_cuts_say_what_to_give() -> None:
    assert parse_cut("0.8") == Cut(share=0.8)
    assert parse_cut("2024-06-01").at is not None
    with pytest.raises(ValueError, match="share of each user's events"):
        parse_cut("soon")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        Cut(share=1.5)


def test_buy_again_puts_what_was_had_most_first() -> None:
    n = 10
    table = ItemTable(
        ids=np.array([f"i{k}" for k in range(n)]),
        embeddings=np.eye(n, dtype=np.float32),
        category=np.zeros(n, np.int32),
        cat_ptr=np.arange(n + 1, dtype=np.int32),
        cat_idx=np.zeros(n, np.int32),
        brand=np.zeros(n, np.int32),
        popularity=np.zeros(n, np.float32),
        category_names=["c"],
        brand_names=["b"],
        model="m",
    )
    items = np.arange(6, dtype=np.int32)
    episode = Episode("q", "", "u", "test", items, np.linspace(1, 0, 6).astype(np.float32),
                      None, {}, np.array([4, 2, 4, 9], dtype=np.int32))  # fmt: skip
    ctx = RerankContext(episode, candidates_of(episode, table), None, np.zeros(6))
    assert BuyAgainStrategy()(ctx, 4, 0.0).tolist() == [4, 2, 0, 1]


def test_the_pipeline_row_sends_each_users_history() -> None:
    from evaluation.live_pipeline import MAX_HISTORY_IDS, LivePipeline
    from evaluation.retrieval import Retriever

    ids = np.array([f"i{k}" for k in range(MAX_HISTORY_IDS + 20)])
    history = np.arange(MAX_HISTORY_IDS + 10, dtype=np.int32)
    episode = Episode("q", "milk", "u", "test", np.arange(3, dtype=np.int32),
                      np.ones(3, np.float32), None, {}, history)  # fmt: skip
    window = Candidates(ids=["i0", "i1", "i2"], scores=np.ones(3, np.float32))
    ctx = RerankContext(episode, window, None, np.zeros(3))
    live = LivePipeline(None, "shop", "p", Retriever(None, "shop", engine="opensearch"),
                        history_ids=ids)  # fmt: skip
    ext = live.body(ctx, 10, 0.3)["ext"]["divrank"]
    sent = ext["history"]["item_ids"]
    assert len(sent) == MAX_HISTORY_IDS and sent[-1] == f"i{MAX_HISTORY_IDS + 9}"  # newest
    assert ext["diversity"] == 0.3
    without = LivePipeline(None, "shop", "p", Retriever(None, "shop", engine="opensearch"))
    assert "history" not in without.body(ctx, 10, 0.3)["ext"]["divrank"]
