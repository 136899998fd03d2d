"""A simulated grocery log: what repeat-heavy shopping looks like, for the replay evaluation.

There is no public grocery log in ``../shared/data``, and repeat purchase is where the item
memory matters, so this writes one with the shape of a supermarket's (catalog JSONL and
purchase events JSONL, ``divrank eval --catalog --events`` reads them as they are):

- 300 shelves ("leaf" categories in 30 departments), each stocked by 3–12 brands with 2–15
  variants each; a brand's popularity on its shelf falls as 1 / rank;
- 400 households, each buying on its own 10–20 shelves for 30 weeks, 3–7 shelves a week;
  on a shelf a household has a staple (drawn by popularity) it rebuys at its own rate
  (Beta(2, 2)); otherwise it picks by popularity, and half of the households pick within
  the staple's brand 70% of the time.

Claims from it are about these assumptions, not about any shop.

    python -c "from pathlib import Path; from evaluation.datasets.grocery_sim import \\
write_grocery_log as w; w(Path('.cache/grocery-sim'))"
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

__all__ = ["write_grocery_log"]

DAY = 86400
START = 1_700_000_000
ADJECTIVES = ["organic", "fresh", "classic", "light", "family", "value", "premium", "natural",
              "crunchy", "smooth", "mild"]  # fmt: skip
SIZES = ["250g", "500g", "1kg", "6 pack", "12 pack", "1l", "2l", "small", "large"]


def _catalog(rng: random.Random, count: int) -> dict[str, list[dict[str, Any]]]:
    brands = [f"brand{b}" for b in range(800)]
    shelves: dict[str, list[dict[str, Any]]] = {}
    n = 0
    for leaf in (f"leaf{s}" for s in range(count)):
        dept = f"dept{rng.randrange(30)}"
        shelves[leaf] = []
        for rank, brand in enumerate(rng.sample(brands, rng.randint(3, 12)), start=1):
            for _ in range(rng.randint(2, 15)):
                shelves[leaf].append({
                    "id": f"p{n}", "category": f"{dept}/{leaf}", "brand": brand,
                    "title": f"{brand} {rng.choice(ADJECTIVES)} {leaf} {rng.choice(SIZES)}",
                    "weight": 1.0 / rank,
                })  # fmt: skip
                n += 1
    return shelves


def _pick(rng: random.Random, items: list[dict[str, Any]]) -> dict[str, Any]:
    return rng.choices(items, weights=[i["weight"] for i in items])[0]


def write_grocery_log(
    folder: Path, seed: int = 11, households: int = 400, shelves: int = 300
) -> tuple[Path, Path]:
    """``folder/catalog.jsonl`` and ``folder/events.jsonl``; returns both paths. Fewer
    ``shelves`` (each household still shops 10–20 of them) make a small log for tests."""
    if shelves < 20:
        raise ValueError(f"{shelves} shelves: a household shops on up to 20")
    rng = random.Random(seed)
    stock = _catalog(rng, shelves)
    events = []
    for h in range(households):
        own = rng.sample(sorted(stock), rng.randint(10, 20))
        habits = {
            leaf: (_pick(rng, stock[leaf]), rng.betavariate(2, 2), rng.random() < 0.5)
            for leaf in own
        }
        for week in range(30):
            for leaf in rng.sample(own, rng.randint(3, 7)):
                staple, rate, loyal = habits[leaf]
                if rng.random() < rate:
                    item = staple
                else:
                    same = [i for i in stock[leaf] if i["brand"] == staple["brand"]]
                    item = _pick(rng, same if loyal and rng.random() < 0.7 else stock[leaf])
                events.append({"user_id": f"h{h}", "item_id": item["id"], "type": "purchase",
                               "ts": START + (week * 7 + rng.random() * 6) * DAY})  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    catalog, log = folder / "catalog.jsonl", folder / "events.jsonl"
    with catalog.open("w", encoding="utf-8") as fh:
        for items in stock.values():
            for item in items:
                fh.write(json.dumps({k: v for k, v in item.items() if k != "weight"}) + "\n")
    with log.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
    return catalog, log
