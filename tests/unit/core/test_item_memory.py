"""Item-level memory: affinity per item, the repeat rate, and the two fusion features."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reranker.core import rerank
from reranker.core.features import COLUMN, static_features
from reranker.core.profile import (
    AFFINITY_SCALE,
    CATEGORY_REPEAT_STRENGTH,
    REPEAT_PRIOR,
    category_repeat_counts,
    category_repeat_rates,
    history_profile,
    item_affinity,
    repeat_rate,
)
from reranker.core.request import prepare
from reranker.core.types import Candidates, Knobs, UserProfile
from reranker.core.weights import DEFAULT_WEIGHTS


def test_affinity_saturates_with_weight_and_keeps_the_strongest() -> None:
    aff = item_affinity(["a", "b", "a", "c"], [8.0, 8.0, 8.0, 0.0])
    assert aff["a"] == pytest.approx(1 - math.exp(-16 / AFFINITY_SCALE))
    assert aff["b"] == pytest.approx(1 - math.exp(-8 / AFFINITY_SCALE))
    assert "c" not in aff  # a zero-weight event is no memory
    assert list(item_affinity(["x", "y", "y", "z"], None, limit=1)) == ["y"]
    # not saturated by a few purchases: the weekly staple stays ahead of the one-off
    weekly = item_affinity(["s"] * 4 + ["o"], [8.0] * 5)
    assert weekly["s"] > weekly["o"] + 0.3


def test_affinity_rejects_mismatched_weights() -> None:
    with pytest.raises(ValueError, match="2 weights for 3 history items"):
        item_affinity(["a", "b", "c"], [1.0, 2.0])


def test_repeat_rate_tells_a_repeat_buyer_from_an_explorer() -> None:
    mean, strength = REPEAT_PRIOR
    assert repeat_rate([]) == pytest.approx(mean)
    explorer = repeat_rate([str(i) for i in range(100)])
    buyer = repeat_rate(["milk", "bread"] * 50)
    assert explorer == pytest.approx(mean * strength / (99 + strength))
    assert buyer == pytest.approx((98 + mean * strength) / (99 + strength))
    assert explorer < 0.01 < 0.9 < buyer


def _window(ids: list[str]) -> Candidates:
    n = len(ids)
    return Candidates(ids=ids, scores=np.linspace(1.0, 0.5, n).astype(np.float32))


def _user(aff: dict[str, float], rate: float) -> UserProfile:
    return UserProfile(
        interests=np.zeros((0, 4), np.float32),
        interest_weights=np.zeros(0, np.float32),
        item_affinity=aff,
        repeat_rate=rate,
    )


def test_features_split_memory_by_repeat_rate() -> None:
    ids = ["a", "b", "c"]
    # (rate, repeat_affinity, seen_by_explorer) of the item had before: the memory switches on
    # between rates 0.03 and 0.10, a seen item stops sinking at 0.10
    for rate, repeat, seen in ((0.0, 0.0, 1.0), (0.065, 0.25, 0.35), (0.3, 0.5, 0.0),
                               (1.0, 0.5, 0.0)):  # fmt: skip
        request = prepare(_window(ids), 3, Knobs(diversity=0.0), _user({"b": 0.5}, rate))
        block = static_features(request)
        rep = block[:, COLUMN["repeat_affinity"]]
        had = block[:, COLUMN["seen_by_explorer"]]
        np.testing.assert_allclose(rep, [0.0, repeat, 0.0], atol=1e-6)
        np.testing.assert_allclose(had, [0.0, seen, 0.0], atol=1e-6)


def test_repeat_buyer_gets_the_usual_first_and_explorer_sees_it_later() -> None:
    ids = [f"i{k}" for k in range(8)]
    buyer = rerank(_window(ids), 8, Knobs(diversity=0.0, strategy="personalized"),
                   user=_user({"i6": 0.9}, 0.8))  # fmt: skip
    assert buyer.order[0] == 6
    explorer = rerank(_window(ids), 8, Knobs(diversity=0.0, strategy="personalized"),
                      user=_user({"i1": 0.9}, 0.0))  # fmt: skip
    # relevance 0.857 plus the seen weight (< -0.857 by default): behind every other item
    assert DEFAULT_WEIGHTS.effective(0.0)[COLUMN["seen_by_explorer"]] < -0.857
    assert explorer.order[-1] == 1


def test_history_profile_carries_the_memory() -> None:
    vectors = np.eye(4, dtype=np.float32)[[0, 1, 0, 2]]
    profile = history_profile(vectors, {}, {}, item_ids=["a", "b", "a", "c"],
                              item_weights=[8.0, 1.0, 8.0, 1.0])  # fmt: skip
    assert profile is not None
    assert set(profile.item_affinity) == {"a", "b", "c"}
    assert profile.item_affinity["a"] > profile.item_affinity["b"]
    assert profile.repeat_rate == pytest.approx(repeat_rate(["a", "b", "a", "c"]))


def test_popularity_prior_is_scale_free_and_bounded() -> None:
    ids = ["a", "b", "c", "d"]
    counts = np.array([0.0, 1.0, 10.0, 100.0], np.float32)
    cols = []
    for scale in (1.0, 1e-3):  # counts or shares of users: the same feature
        window = Candidates(ids=ids, scores=np.ones(4, np.float32), popularity=counts * scale)
        block = static_features(prepare(window, 4, Knobs(diversity=0.0)))
        cols.append(block[:, COLUMN["popularity"]])
    np.testing.assert_allclose(cols[0], cols[1], rtol=1e-5)
    assert cols[0][0] == 0.0 and cols[0][-1] == pytest.approx(1.0)
    assert np.all(np.diff(cols[0]) > 0)


def test_popularity_of_the_wrong_length_is_an_error() -> None:
    window = Candidates(ids=["a", "b"], scores=np.ones(2, np.float32),
                        popularity=np.ones(3, np.float32))  # fmt: skip
    with pytest.raises(ValueError, match="popularity has shape"):
        rerank(window, 2, Knobs(diversity=0.0))


def test_category_repeat_counts_and_rates() -> None:
    ids = ["milk1", "milk1", "cheese1", "milk1", "cheese2", "cheese3", "x"]
    cats = ["milk", "milk", "cheese", "milk", "cheese", "cheese", None]
    counts = category_repeat_counts(ids, cats)
    assert counts == {"milk": (2, 2), "cheese": (0, 2)}
    rates = category_repeat_rates(counts, 0.5)
    strength = CATEGORY_REPEAT_STRENGTH
    assert rates["milk"] == pytest.approx((2 + 0.5 * strength) / (2 + strength))
    assert rates["cheese"] == pytest.approx(0.5 * strength / (2 + strength))
    assert category_repeat_rates({"once": (0, 0)}, 0.5) == {}  # no chance: the user's rate
    with pytest.raises(ValueError, match="1 categories for 2 history items"):
        category_repeat_counts(["a", "b"], ["c"])


def test_profile_keeps_a_repeat_rate_per_category() -> None:
    ids = ["milk1"] * 6 + ["cheese1", "cheese2", "cheese3", "cheese4"]
    cats = ["milk"] * 6 + ["cheese"] * 4
    vectors = np.eye(4, dtype=np.float32)[np.arange(10) % 4]
    profile = history_profile(vectors, {"milk": 6, "cheese": 4}, {}, item_ids=ids,
                              item_categories=cats)  # fmt: skip
    assert profile is not None
    rates = profile.category_repeat_rate
    assert rates["milk"] > profile.repeat_rate > rates["cheese"]


def test_features_read_the_candidates_category_rate() -> None:
    # the same affinity: the milk comes back, the cheese already had is pushed down
    c = Candidates(
        ids=["milk1", "cheese1", "bread1"],
        scores=np.array([1.0, 0.9, 0.8], np.float32),
        categories=np.array([0, 1, 2], np.int32),
        category_names=["milk", "cheese", "bread"],
    )
    user = UserProfile(
        interests=np.zeros((0, 4), np.float32),
        interest_weights=np.zeros(0, np.float32),
        item_affinity={"milk1": 0.5, "cheese1": 0.5, "bread1": 0.5},
        repeat_rate=0.4,
        category_repeat_rate={"milk": 0.9, "cheese": 0.02},
    )
    block = static_features(prepare(c, 3, Knobs(diversity=0.0), user))
    np.testing.assert_allclose(block[:, COLUMN["repeat_affinity"]], [0.5, 0.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(block[:, COLUMN["seen_by_explorer"]], [0.0, 0.8, 0.0], atol=1e-6)
