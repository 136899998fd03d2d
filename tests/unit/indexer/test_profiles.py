"""Profile math: several interests, weights by type and recency, histograms, recent items."""

from __future__ import annotations

import numpy as np

from indexer.events import Event
from indexer.profiles import (
    ITEM_HALF_LIFE_DAYS,
    ItemInfo,
    ProfileConfig,
    build_profile,
    event_weight,
)

DAY = 86400.0
KEYS = {
    "user_id",
    "interests",
    "interest_weights",
    "centroid",
    "category_hist",
    "brand_hist",
    "item_weights",
    "repeats",
    "repeat_chances",
    "category_repeats",
    "recent_item_ids",
    "updated_at",
}


def _items() -> dict[str, ItemInfo]:
    rng = np.random.default_rng(0)
    a, b = np.eye(16)[0], np.eye(16)[1]
    items = {}
    for i in range(6):
        items[f"a{i}"] = ItemInfo(
            a + 0.05 * rng.standard_normal(16), "Printing/Supplies/Toner", "HP"
        )
        items[f"b{i}"] = ItemInfo(
            b + 0.05 * rng.standard_normal(16), "Audio/Audio/Headphones", "Sony"
        )
    return items


def test_two_tastes_give_two_interests() -> None:
    now = 100 * DAY
    history = [Event("u", f"a{i}", "purchase", now - i * DAY) for i in range(6)]
    history += [Event("u", f"b{i}", "view", now - 50 * DAY) for i in range(6)]
    p = build_profile("u", history, _items(), now, ProfileConfig(max_interests=2))
    assert p is not None and set(p) == KEYS
    assert len(p["interests"]) == 2 and len(p["interests"][0]) == 16
    first, second = np.array(p["interests"][0]), np.array(p["interests"][1])
    assert first[0] > 0.9 and second[1] > 0.9  # purchases (recent) outweigh old views
    assert p["interest_weights"][0] > 0.9 and abs(sum(p["interest_weights"]) - 1) < 1e-5
    assert abs(np.linalg.norm(p["centroid"]) - 1) < 1e-5
    assert list(p["category_hist"]) == ["Printing/Supplies/Toner", "Audio/Audio/Headphones"]
    assert abs(sum(p["brand_hist"].values()) - 1) < 1e-5
    assert p["recent_item_ids"][0] == "a0"


def test_weights_order_and_decay() -> None:
    e = [Event("u", "x", t, 0.0) for t in ("view", "click", "cart", "purchase")]
    w = [event_weight(x, 0.0, 30) for x in e]
    assert w == sorted(w) and len(set(w)) == 4
    assert abs(event_weight(Event("u", "x", "click", 0.0), 30 * DAY, 30) - w[1] / 2) < 1e-9


def test_small_history_has_one_interest_and_unknown_items_are_left_out() -> None:
    now = 10 * DAY
    history = [Event("u", "a0", "click", now), Event("u", "zzz", "purchase", now)]
    p = build_profile("u", history, _items(), now, ProfileConfig(max_interests=4))
    assert p is not None and len(p["interests"]) == 1
    assert "zzz" in p["recent_item_ids"]
    assert build_profile("u", [Event("u", "zzz", "click", now)], _items(), now) is None


def test_item_weights_and_repeat_counts_are_kept_raw() -> None:
    now = 10 * DAY
    history = [Event("u", "a0", "purchase", now), Event("u", "a0", "purchase", now - 30 * DAY),
               Event("u", "a1", "view", now)]  # fmt: skip
    p = build_profile("u", sorted(history, key=lambda e: e.ts), _items(), now,
                      ProfileConfig(max_items=1, item_half_life_days=30.0))  # fmt: skip
    assert p is not None
    assert p["item_weights"] == {"a0": 12.0}  # 8 + 8 * 0.5 (one half-life old); a1 cut
    assert (p["repeats"], p["repeat_chances"]) == (1, 2)
    # all three events are toner: two chances, one return to a0
    assert p["category_repeats"] == {"Printing/Supplies/Toner": [1, 2]}


def test_the_item_memory_forgets_slower_than_the_interests() -> None:
    """The same purchase 180 days old: half its weight in the item memory (its own half-life),
    1/64 of it in the label shares (30 days), so an old staple still counts as one."""
    now = 400 * DAY
    history = [Event("u", "a0", "purchase", now - 180 * DAY), Event("u", "a1", "purchase", now)]
    p = build_profile("u", history, _items(), now, ProfileConfig())
    assert p is not None
    assert ProfileConfig().item_half_life_days == ITEM_HALF_LIFE_DAYS == 180.0
    assert p["item_weights"] == {"a1": 8.0, "a0": 4.0}


def test_the_cli_help_names_the_item_memory_default() -> None:
    """`divrank profiles build --item-half-life-days` says the default it leaves to the code."""
    from typer.testing import CliRunner

    from cli.main import app

    done = CliRunner().invoke(app, ["profiles", "build", "--help"], env={"COLUMNS": "200"})
    assert f"default {ITEM_HALF_LIFE_DAYS:g} days" in done.output, done.output
