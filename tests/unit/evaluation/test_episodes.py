"""Episode files: a round trip through .npz without pickle, and the split rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.build import assign_split
from evaluation.episodes import Episode, EpisodeSet, ItemTable


def _table() -> ItemTable:
    return ItemTable(
        ids=np.array(["i0", "i1", "i2"]),
        embeddings=np.eye(3, dtype=np.float32),
        category=np.array([0, 1, -1], np.int32),
        cat_ptr=np.array([0, 2, 3, 3], np.int32),
        cat_idx=np.array([0, 1, 1], np.int32),
        brand=np.array([0, -1, 0], np.int32),
        popularity=np.array([0.5, 0.25, 0.0], np.float32),
        category_names=["Comedy", "Drama"],
        brand_names=["acme"],
        model="test-model",
    )


def test_item_table_round_trip_and_category_rows(tmp_path: Path) -> None:
    table = _table()
    table.save(tmp_path / "items.npz")
    back = ItemTable.load(tmp_path / "items.npz")
    assert back.category_names == ["Comedy", "Drama"]
    assert back.model == "test-model"
    np.testing.assert_array_equal(back.cat_idx, table.cat_idx)
    rows = back.category_rows(np.array([0, 1, 2]))
    np.testing.assert_allclose(rows, [[0.5, 0.5], [0.0, 1.0], [0.0, 0.0]])


def test_episode_set_round_trip(tmp_path: Path) -> None:
    eps = [
        Episode("q1", "drill", "", "test", np.array([2, 0], np.int32),
                np.array([3.0, 1.0], np.float32), np.ones(3, np.float32),
                {"i0": 2, "zz": 0}, np.zeros(0, np.int32)),
        Episode("q2", "", "u7", "train", np.array([1], np.int32), np.array([0.5], np.float32),
                None, {"i1": 1}, np.array([0, 2], np.int32)),
    ]  # fmt: skip
    path = tmp_path / "eps.npz"
    EpisodeSet.from_episodes("toy", "bm25", True, eps, dim=3).save(path)
    back = EpisodeSet.load(path)
    assert (back.dataset, back.retrieval, back.shallow, len(back)) == ("toy", "bm25", True, 2)
    first, second = back.episode(0), back.episode(1)
    np.testing.assert_array_equal(first.items, [2, 0])
    assert first.judgments == {"i0": 2, "zz": 0}
    assert first.query_embedding is not None
    assert second.query_embedding is None
    np.testing.assert_array_equal(second.history, [0, 2])
    assert [e.qid for e in back.select("train")] == ["q2"]
    with np.load(path, allow_pickle=False) as z:  # would raise on object arrays
        assert "cand_item" in z.files


def test_split_is_stable_and_roughly_60_20_20() -> None:
    splits = [assign_split(f"q{i}", seed=0) for i in range(5000)]
    assert splits == [assign_split(f"q{i}", seed=0) for i in range(5000)]
    shares = {s: splits.count(s) / len(splits) for s in ("train", "valid", "test")}
    assert abs(shares["train"] - 0.6) < 0.03
    assert abs(shares["test"] - 0.2) < 0.03
    assert splits != [assign_split(f"q{i}", seed=1) for i in range(5000)]
