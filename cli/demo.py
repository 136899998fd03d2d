"""The demo: scripted shoppers, their profiles, and the engine page beside the divrank page.

Three shoppers with plain histories (a printer-supplies buyer, a gamer, a photographer) are
written as our events JSONL (see :mod:`indexer.events`) from real catalog items, picked by title
keywords from the indexed catalog itself, so the histories fit whatever slice was indexed. The
indexer's own profile builder turns them into profiles. A comparison then runs one search twice
against OpenSearch: once with ``search_pipeline=_none`` (engine order) and once through the real
divrank search pipeline (plugin → sidecar), so what it shows is what a frontend would get.

Used by ``divrank demo`` (terminal columns); the search it shows lives in
:mod:`reranker.app.demo_search`, shared with the sidecar's ``/demo`` page. This module
imports neither torch nor the web stack: the profile builder is imported only when called.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from reranker.app.demo_search import (
    DEMO_USERS,
    HISTORY_START,
    SOURCE_FIELDS,
    Comparison,
    DemoError,
    DemoHit,
    DemoUser,
    demo_hit,
    run_search,
)

__all__ = [
    "DemoProfiles",
    "build_demo_profiles",
    "format_comparison",
    "index_ready",
    "pick_history",
    "write_events",
]


def index_ready(client: OpenSearch, alias: str) -> int:
    """Documents behind ``alias`` (0 when it does not exist)."""
    try:
        if not client.indices.exists(index=alias):
            return 0
        return int(client.count(index=alias)["count"])
    except NotFoundError:
        return 0


# --- scripted histories ----------------------------------------------------------------------


def pick_history(client: OpenSearch, alias: str, user: DemoUser) -> list[DemoHit]:
    """Real catalog items for ``user``'s picks: best title matches, ties broken by title."""
    chosen: list[DemoHit] = []
    seen: set[str] = set()
    for keywords, count in user.picks:
        body = {
            "size": count + len(seen),
            "query": {"match": {"title": {"query": keywords, "operator": "and"}}},
            "sort": [{"_score": "desc"}, {"title.raw": "asc"}],
            "_source": list(SOURCE_FIELDS),
        }
        hits = run_search(client, alias, body, "_none")["hits"]["hits"]
        fresh = [h for h in hits if str(h["_id"]) not in seen][:count]
        for raw in fresh:
            seen.add(str(raw["_id"]))
            chosen.append(demo_hit(raw))
    return chosen


def write_events(histories: dict[str, list[DemoHit]], path: Path) -> int:
    """Our events JSONL: a view of every item, a click on most, a purchase of every third."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with path.open("w", encoding="utf-8") as out:
        for user_id, items in histories.items():
            for n, item in enumerate(items):
                when = HISTORY_START + timedelta(days=2 * n)
                kinds = ["view"] + (["click"] if n % 4 != 3 else []) + (
                    ["purchase"] if n % 3 == 0 else [])
                for step, kind in enumerate(kinds):
                    ts = (when + timedelta(minutes=5 * step)).isoformat().replace("+00:00", "Z")
                    out.write(json.dumps({"user_id": user_id, "item_id": item.id, "type": kind,
                                          "ts": ts}) + "\n")
                    lines += 1
    return lines


@dataclass
class DemoProfiles:
    events_path: Path
    histories: dict[str, list[DemoHit]]
    profiles_index: str
    profiles: int


def build_demo_profiles(
    client: OpenSearch,
    alias: str,
    profiles_alias: str,
    events_path: Path,
    cache_dir: Path,
    users: Sequence[DemoUser] = DEMO_USERS,
    say: Callable[[str], None] = lambda _: None,
) -> DemoProfiles:
    """Pick histories from ``alias``, write them as events, build profiles with the indexer."""
    from indexer.profile_run import ProfileOptions, ProfileRunError, run_profiles

    histories: dict[str, list[DemoHit]] = {}
    for user in users:
        items = pick_history(client, alias, user)
        if not items:
            say(f"{user.id}: no item of {alias!r} matches its picks; left out")
            continue
        histories[user.id] = items
        say(f"{user.id} ({user.label}): {len(items)} items, e.g. {items[0].title[:60]!r}")
    if not histories:
        raise DemoError(f"no demo user found items in {alias!r}: is it the Icecat catalog?")
    lines = write_events(histories, events_path)
    say(f"wrote {lines} events to {events_path}")
    opts = ProfileOptions(events=events_path, alias=profiles_alias, items_alias=alias,
                          cache_dir=cache_dir, progress=False, rejects_path=None,
                          max_reject_ratio=0.0)
    try:
        report = run_profiles(client, opts, say=say)
    except ProfileRunError as exc:
        raise DemoError(f"building the demo profiles failed: {exc}") from None
    return DemoProfiles(events_path, histories, report.load.index, report.profiles)


# --- terminal columns ------------------------------------------------------------------------


def _short_category(category: str | None) -> str:
    return category.rsplit("/", 1)[-1] if category else "?"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _cell(rank: int, hit: DemoHit, width: int) -> str:
    """``rank. title  brand  category``, the last two in fixed sub-columns."""
    brand_w, cat_w = (12, 16) if width >= 50 else (8, 10)
    title_w = max(8, width - 4 - brand_w - cat_w - 2)
    text = (f"{rank:>2}. {_fit(hit.title, title_w):<{title_w}} "
            f"{_fit(hit.brand or '?', brand_w):<{brand_w}} "
            f"{_fit(_short_category(hit.category), cat_w):<{cat_w}}")
    return text[:width].ljust(width)


def _counts(hits: Sequence[DemoHit], key: str) -> str:
    counter = Counter((getattr(h, key) if key == "brand" else _short_category(h.category)) or "?"
                      for h in hits)
    top = ", ".join(f"{name}×{n}" for name, n in counter.most_common(4))
    more = " …" if len(counter) > 4 else ""
    noun = ("brand" if key == "brand" else "category") if len(counter) == 1 else (
        "brands" if key == "brand" else "categories")
    return f"{len(counter)} {noun}: {top}{more}"


def format_comparison(
    comparison: Comparison, user_label: str, width: int | None = None
) -> list[str]:
    """Aligned lines: engine page | divrank page, then brand and category counts per column."""
    total = width or shutil.get_terminal_size((140, 24)).columns
    col = max(30, (total - 3) // 2)
    status = "applied" if comparison.applied and not comparison.degraded else (
        f"DEGRADED ({comparison.reason})" if comparison.degraded else
        f"not applied ({comparison.reason})")
    title = (f"query {comparison.query!r} · user {user_label} · diversity "
             f"{comparison.diversity:.2f} · divrank {status}")
    lines = [title, "=" * min(len(title), 2 * col + 3)]
    lines.append(f"{'engine order':<{col}} | {'divrank (through the search pipeline)':<{col}}")
    lines.append(f"{'-' * col}-+-{'-' * col}")
    rows = max(len(comparison.engine), len(comparison.divrank))
    for i in range(rows):
        left = _cell(i + 1, comparison.engine[i], col) if i < len(comparison.engine) else " " * col
        right = (_cell(i + 1, comparison.divrank[i], col) if i < len(comparison.divrank)
                 else " " * col)
        lines.append(f"{left} | {right}".rstrip())
    lines.append(f"{'-' * col}-+-{'-' * col}")
    for key in ("brand", "category"):
        left = _fit(_counts(comparison.engine, key), col).ljust(col)
        right = _fit(_counts(comparison.divrank, key), col)
        lines.append(f"{left} | {right}")
    moved = sum(1 for a, b in zip(comparison.engine, comparison.divrank, strict=False)
                if a.id != b.id)
    new = len({h.id for h in comparison.divrank} - {h.id for h in comparison.engine})
    lines.append(f"{moved} of {rows} positions differ; {new} items not on the engine page")
    return lines
