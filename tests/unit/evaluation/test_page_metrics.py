"""One table row from pages: ranking metrics plus the per-page diversity, on a toy table."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.episodes import Episode, ItemTable
from evaluation.page_metrics import EpisodeContext, page_metrics


def _table() -> ItemTable:
    # items 0,1 identical (Comedy, brand acme); item 2 orthogonal (Comedy+Drama, brand zed)
    return ItemTable(
        ids=np.array(["a", "b", "c"]),
        embeddings=np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32),
        category=np.array([0, 0, 0], np.int32),
        cat_ptr=np.array([0, 1, 2, 4], np.int32),
        cat_idx=np.array([0, 0, 0, 1], np.int32),
        brand=np.array([0, 0, 1], np.int32),
        popularity=np.array([0.5, 0.5, 0.125], np.float32),
        category_names=["Comedy", "Drama"],
        brand_names=["acme", "zed"],
        model="m",
    )


def test_page_metrics_by_hand() -> None:
    table = _table()
    ep = Episode("q", "", "u", "test", np.array([0, 1, 2], np.int32),
                 np.array([3, 2, 1], np.float32), None, {"c": 1},
                 np.array([2], np.int32))  # fmt: skip
    ctx = EpisodeContext.build(ep, table)
    m = page_metrics([ctx], [np.array([0, 2])], table)
    assert m["ndcg@10"] == pytest.approx(1 / np.log2(3))
    assert m["ild@10"] == pytest.approx(1.0)
    assert m["brand_cov@10"] == 2
    assert m["cat_cov@10"] == 2
    # page mix: item a -> Comedy 1, item c -> 1/2 Comedy + 1/2 Drama: (0.75, 0.25)
    expected_h = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25))
    assert m["cat_entropy@10"] == pytest.approx(expected_h)
    assert m["novelty@10"] == pytest.approx((1 + 3) / 2)
    # history = item c: centroid (0, 1); cosines 0 and 1
    assert m["overpers@10"] == pytest.approx(0.5)
    assert m["calib_kl@10"] > 0
    with pytest.raises(ValueError, match="1 episodes but 2 pages"):
        page_metrics([ctx], [np.array([0]), np.array([1])], table)
