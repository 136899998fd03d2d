"""The simulated grocery log reads through the same readers a shop's files do."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from evaluation.datasets.grocery_sim import write_grocery_log
from indexer.catalog import FieldMap, read_catalog
from indexer.events import read_events
from indexer.items import validate_items
from indexer.rejects import RejectLog


def test_the_log_is_a_repeat_heavy_shop_our_readers_take_as_is(tmp_path: Path) -> None:
    catalog, events = write_grocery_log(tmp_path, households=30)
    rejects = RejectLog(None)
    items = {d.id: d for d in validate_items(read_catalog(catalog, FieldMap()), rejects)}
    assert rejects.rejected == 0 and len(items) > 5000
    brands_on: dict[str, set[str]] = defaultdict(set)
    for item in items.values():
        assert item.category is not None and item.brand is not None
        brands_on[item.category].add(item.brand)
    assert len(brands_on) == 300 and all(3 <= len(b) <= 12 for b in brands_on.values())
    bought = list(read_events(events, rejects))
    assert rejects.rejected == 0 and {e.type for e in bought} == {"purchase"}
    assert all(e.item_id in items for e in bought)
    per_household = Counter(e.user_id for e in bought)
    assert len(per_household) == 30
    # households come back for what they had: most purchases are of an item bought before
    seen: set[tuple[str, str]] = set()
    again = 0
    for e in sorted(bought, key=lambda e: e.ts):
        again += (e.user_id, e.item_id) in seen
        seen.add((e.user_id, e.item_id))
    assert again / len(bought) > 0.5
    assert write_grocery_log(tmp_path / "again", households=30)[1].read_text() == (
        events.read_text()
    )  # seeded: the same log every time
