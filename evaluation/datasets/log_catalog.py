"""A stand-in catalog from an events log, for logs that come without one (the UBI sample).

Every item an event names becomes a product; its title is the best text the log has for it
(its description, else the query that led to it: ``EventReadStats.text_for``). Enough to run
the replay end to end on such a log; a shop replays with its real catalog.
"""

from __future__ import annotations

import json
from pathlib import Path

from indexer.events import EventReadStats, read_events
from indexer.rejects import RejectLog

__all__ = ["catalog_from_events"]


def catalog_from_events(events: Path, out: Path) -> int:
    """Write ``out`` (JSONL: id, title, brand, category); returns how many items it holds."""
    stats = EventReadStats()
    titles: dict[str, str] = {}
    brands: dict[str, str] = {}
    for event in read_events(events, RejectLog(None), stats=stats):
        text = stats.text_for(event)
        if text and event.item_id not in titles:
            titles[event.item_id] = text
        if event.brand:
            brands.setdefault(event.item_id, event.brand)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for item, title in titles.items():
            fh.write(json.dumps({"id": item, "title": title, "brand": brands.get(item)}) + "\n")
    return len(titles)
