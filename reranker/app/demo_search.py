"""The demo's side-by-side search: one query to OpenSearch in engine order and through the divrank
pipeline, and the scripted shoppers the page offers.

Used by the sidecar's ``/demo`` page and by ``divrank demo`` (:mod:`cli.demo`), so the page and
the terminal show the same thing; imports neither torch nor the web stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

__all__ = [
    "DEMO_PAIR",
    "DEMO_QUERIES",
    "DEMO_USERS",
    "HISTORY_START",
    "SOURCE_FIELDS",
    "Comparison",
    "DemoError",
    "DemoHit",
    "DemoUser",
    "compare",
    "demo_client",
    "demo_hit",
    "run_search",
    "search_body",
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


def run_search(
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


def demo_hit(raw: dict[str, Any]) -> DemoHit:
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
    engine = run_search(client, alias, search_body(query, size), "_none")
    ext: dict[str, Any] = {"diversity": diversity, "explain": True}
    if user_id:
        ext["user_id"] = user_id
    ranked = run_search(client, alias, search_body(query, size, ext), pipeline)
    info = (ranked.get("ext") or {}).get("divrank")
    if not isinstance(info, dict):
        raise DemoError(
            f"the search through pipeline {pipeline!r} carries no ext.divrank: is it the divrank "
            f"pipeline? (`divrank pipeline show --name {pipeline}`)"
        )
    return Comparison(
        query=query, user_id=user_id, diversity=diversity,
        engine=[demo_hit(h) for h in engine["hits"]["hits"]],
        divrank=[demo_hit(h) for h in ranked["hits"]["hits"]],
        applied=bool(info.get("applied")), degraded=bool(info.get("degraded")),
        reason=info.get("reason"), strategy=info.get("strategy"), divrank_ext=info,
    )
