"""The demo: scripted shoppers, their profiles, and the engine page beside the divrank page.

Three shoppers with plain histories (a printer-supplies buyer, a gamer, a photographer) are
written as our events JSONL (see :mod:`indexer.events`) from real catalog items, picked by title
keywords from the indexed catalog itself, so the histories fit whatever slice was indexed. The
indexer's own profile builder turns them into profiles. A comparison then runs one search twice
against OpenSearch: once with ``search_pipeline=_none`` (engine order) and once through the real
divrank search pipeline (plugin → sidecar), so what it shows is what a frontend would get.

Used by ``divrank demo`` (terminal columns) and by the sidecar's ``/demo`` page. This module
imports neither torch nor the web stack: the profile builder is imported only when called.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

__all__ = [
    "DEMO_PAIR",
    "DEMO_QUERIES",
    "DEMO_USERS",
    "Comparison",
    "DemoError",
    "DemoHit",
    "DemoUser",
    "build_demo_profiles",
    "compare",
    "demo_client",
    "format_comparison",
    "index_ready",
    "pick_history",
    "search_body",
    "write_events",
]

# Search fields of the demo query; brand.text lets "hp" or "canon" match the brand too.
SEARCH_FIELDS = ("title^3", "brand.text^2", "description")
SOURCE_FIELDS = ("title", "brand", "category", "price")
HISTORY_START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # fixed: the same events on every run


class DemoError(RuntimeError):
    """Something the demo needs is missing; the message says what and how to fix it."""


@dataclass(frozen=True)
class DemoUser:
    """A scripted shopper: what they looked at, as (title keywords, how many items) picks."""

    id: str
    label: str
    story: str
    picks: tuple[tuple[str, int], ...]

    def public(self) -> dict[str, str]:
        return {"id": self.id, "label": self.label, "story": self.story}


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(
        id="demo-printer",
        label="Printer-supplies buyer",
        story="keeps an office running: HP ink and toner, labels, photo paper",
        picks=(("hp ink cartridge", 4), ("toner cartridge", 3), ("labels", 2),
               ("photo paper", 2), ("printer", 1)),
    ),
    DemoUser(
        id="demo-gamer",
        label="Gamer",
        story="gaming notebooks, a gaming mouse and headset, graphics cards, memory",
        picks=(("gaming notebook", 3), ("gaming", 2), ("mouse", 2), ("headset", 2),
               ("graphics card", 2), ("memory module", 1)),
    ),
    DemoUser(
        id="demo-photographer",
        label="Photographer",
        story="Canon and Sony cameras, lenses, memory cards, photo paper",
        picks=(("camera", 3), ("lens", 3), ("memory card", 2), ("photo paper", 2),
               ("tripod", 1)),
    ),
)
# Chosen on the full Icecat catalog: "white" is a page of near-identical label rolls in engine
# order (homogeneity); "card" and "adapter" mean different things to a gamer (graphics cards,
# eSATA) and a photographer (SD cards, lens adapters).
DEMO_QUERIES: tuple[str, ...] = ("white", "card", "adapter")
DEMO_PAIR: tuple[str, str] = ("demo-gamer", "demo-photographer")  # the two users `demo run` shows


@dataclass(frozen=True)
class DemoHit:
    id: str
    title: str
    brand: str | None
    category: str | None
    price: float | None
    score: float | None  # the engine's score
    explanation: dict[str, Any] | None = None  # fields._divrank of the divrank page

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "brand": self.brand,
                "category": self.category, "price": self.price, "score": self.score,
                "explanation": self.explanation}


@dataclass
class Comparison:
    query: str
    user_id: str | None
    diversity: float
    engine: list[DemoHit]
    divrank: list[DemoHit]
    applied: bool
    degraded: bool
    reason: str | None
    strategy: str | None
    divrank_ext: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query, "user_id": self.user_id, "diversity": self.diversity,
            "engine": [h.as_dict() for h in self.engine],
            "divrank": [h.as_dict() for h in self.divrank],
            "applied": self.applied, "degraded": self.degraded, "reason": self.reason,
            "strategy": self.strategy,
        }


@lru_cache(maxsize=4)
def demo_client(url: str, user: str | None = None, password: str | None = None) -> OpenSearch:
    """One client per engine for the demo (searches run through the pipeline: generous timeout)."""
    auth = (user, password or "") if user else None
    return OpenSearch(hosts=[url], http_auth=auth, timeout=30, max_retries=0)


def _error_reason(exc: TransportError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error")
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("type") or error)
    return str(error or exc.error)


def _search(
    client: OpenSearch, alias: str, body: dict[str, Any], pipeline: str
) -> dict[str, Any]:
    try:
        result: dict[str, Any] = client.transport.perform_request(
            "POST", f"/{alias}/_search", params={"search_pipeline": pipeline}, body=body
        )
    except OSConnectionError:
        raise DemoError(
            "cannot reach OpenSearch; start it with `divrank engine up` (or `make demo`)"
        ) from None
    except NotFoundError as exc:
        reason = _error_reason(exc)
        if "pipeline" in reason.lower():
            raise DemoError(_no_pipeline(pipeline, alias)) from None
        raise DemoError(
            f"no index or alias {alias!r} on the engine: index the catalog first "
            f"(`divrank index --preset icecat --alias {alias}` or `make demo`)"
        ) from None
    except TransportError as exc:
        reason = _error_reason(exc)
        if "pipeline" in reason.lower() and pipeline != "_none":
            raise DemoError(f"{_no_pipeline(pipeline, alias)} (engine said: {reason})") from None
        raise DemoError(
            f"OpenSearch answered {exc.status_code} for the demo search: {reason}"
        ) from None
    return result


def _no_pipeline(pipeline: str, alias: str) -> str:
    return (f"search pipeline {pipeline!r} is not installed: "
            f"`divrank pipeline install --name {pipeline} --alias {alias} --default`")


def search_body(query: str, size: int = 10, ext: dict[str, Any] | None = None) -> dict[str, Any]:
    """The demo search: plain BM25 over title, brand and description (what a shop might send)."""
    body: dict[str, Any] = {
        "size": size,
        "query": {"multi_match": {"query": query, "fields": list(SEARCH_FIELDS)}},
        "_source": list(SOURCE_FIELDS),
    }
    if ext is not None:
        body["ext"] = {"divrank": ext}
    return body


def _hit(raw: dict[str, Any]) -> DemoHit:
    src = raw.get("_source") or {}
    explained = (raw.get("fields") or {}).get("_divrank")
    explanation = explained[0] if isinstance(explained, list) and explained else None
    price = src.get("price")
    return DemoHit(
        id=str(raw["_id"]), title=str(src.get("title") or raw["_id"]), brand=src.get("brand"),
        category=src.get("category"),
        price=float(price) if isinstance(price, int | float) else None,
        score=raw.get("_score"),
        explanation=explanation if isinstance(explanation, dict) else None,
    )


def compare(
    client: OpenSearch,
    alias: str,
    pipeline: str,
    query: str,
    user_id: str | None,
    diversity: float,
    size: int = 10,
) -> Comparison:
    """The same search twice: engine order (``_none``) and through the divrank pipeline."""
    if not query.strip():
        raise DemoError("the query is empty")
    if not 0.0 <= diversity <= 1.0:
        raise DemoError(f"diversity must be in [0, 1], got {diversity}")
    engine = _search(client, alias, search_body(query, size), "_none")
    ext: dict[str, Any] = {"diversity": diversity, "explain": True}
    if user_id:
        ext["user_id"] = user_id
    ranked = _search(client, alias, search_body(query, size, ext), pipeline)
    info = (ranked.get("ext") or {}).get("divrank")
    if not isinstance(info, dict):
        raise DemoError(
            f"the search through pipeline {pipeline!r} carries no ext.divrank: is it the divrank "
            f"pipeline? (`divrank pipeline show --name {pipeline}`)"
        )
    return Comparison(
        query=query, user_id=user_id, diversity=diversity,
        engine=[_hit(h) for h in engine["hits"]["hits"]],
        divrank=[_hit(h) for h in ranked["hits"]["hits"]],
        applied=bool(info.get("applied")), degraded=bool(info.get("degraded")),
        reason=info.get("reason"), strategy=info.get("strategy"), divrank_ext=info,
    )


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
        hits = _search(client, alias, body, "_none")["hits"]["hits"]
        fresh = [h for h in hits if str(h["_id"]) not in seen][:count]
        for raw in fresh:
            seen.add(str(raw["_id"]))
            chosen.append(_hit(raw))
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
