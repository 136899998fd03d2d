"""MovieLens-100K as a search log: a catalog file and an events file for the replay path.

So MovieLens goes through exactly what a shop's logs go through (``divrank eval --catalog
--events``): a film is a product (title; genres as its description, so BM25 finds "Comedy";
its first genre as its category; its director as its brand), a rating is an event at its
timestamp: rated >= 4 is a "purchase" (the relevance a later genre query is graded by), any
lower rating a "view" (watched: it shapes the profile, it is not a success). Written under the
git-ignored cache, never committed (GroupLens terms).
"""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.datasets.movielens import POSITIVE, read_wheel

__all__ = ["export_search_logs"]


def export_search_logs(cache_dir: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write ``catalog.jsonl`` and ``events.jsonl`` into ``out_dir``; returns their paths."""
    items, inter, links, director_of = read_wheel(cache_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    catalog, events = out_dir / "catalog.jsonl", out_dir / "events.jsonl"
    with catalog.open("w", encoding="utf-8") as fh:
        for row in items:
            genres = row[3].split() if len(row) > 3 else []
            doc = {
                "id": row[0],
                "title": f"{row[1]} ({row[2]})" if len(row) > 2 and row[2] else row[1],
                "description": ", ".join(genres),
                "category": genres[0] if genres else None,
                "brand": director_of.get(links.get(row[0], "")),
            }
            fh.write(json.dumps(doc) + "\n")
    with events.open("w", encoding="utf-8") as fh:
        for user, item, rating, stamp in inter:
            kind = "purchase" if float(rating) >= POSITIVE else "view"
            fh.write(json.dumps({"user_id": user, "item_id": item, "type": kind,
                                 "ts": int(float(stamp))}) + "\n")  # fmt: skip
    return catalog, events
