"""User events from our JSONL schema or from OpenSearch UBI ``ubi_events``, in one shape.

Our schema, one object per line::

    {"user_id": "u1", "item_id": "123", "type": "click", "ts": "2025-01-01T10:00:00Z"}

(``type`` is one of view, click, cart, purchase; ``ts`` may also be epoch seconds or
milliseconds; optional ``text``, ``brand``, ``category`` describe an item the catalog lacks.)

UBI (User Behavior Insights): documents of the ``ubi_events`` index, either as a bulk file
(action line + document, as exported), one document per line, or one dump line per document
(``{"_index", "_id", "_source"}``, as dump tools and search hits give them). ``client_id`` is
the user, ``event_attributes.object.object_id`` the item (``internal_id`` is tried too when
the object id names another field, e.g. an EAN), ``action_name`` maps to our types with
:data:`UBI_ACTIONS`; actions without an item or a known meaning (impressions, searches, filters,
page exits) are skipped, not rejected: they are not interest signals. ``ubi_queries`` documents
in the same file are not events, but their query texts are kept: when an item has no
description anywhere in the log, the query that led to the event stands in for it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from indexer.rejects import Reason, RejectLog
from indexer.text_files import TextFileError, numbered_lines

__all__ = ["EVENT_TYPES", "UBI_ACTIONS", "Event", "EventReadStats", "parse_ts", "read_events"]

EVENT_TYPES = ("view", "click", "cart", "purchase")
UBI_ACTIONS = {
    "view": "view",
    "product_view": "view",
    "item_view": "view",
    "product_hover": "view",
    "details": "view",
    "click": "click",
    "item_click": "click",
    "product_click": "click",
    "click_through": "click",
    "add_to_cart": "cart",
    "cart": "cart",
    "add_to_basket": "cart",
    "purchase": "purchase",
    "checkout": "purchase",
    "order": "purchase",
    "buy": "purchase",
}


@dataclass(frozen=True)
class Event:
    user_id: str
    item_id: str
    type: str
    ts: float  # epoch seconds
    text: str | None = None
    brand: str | None = None
    category: str | None = None
    alt_item_id: str | None = None  # UBI internal_id, tried when item_id is unknown
    query_id: str | None = None
    query_text: str | None = None  # the search that led to the event (UBI)


@dataclass
class EventReadStats:
    lines: int = 0
    events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    # Item descriptions seen on any event, impressions included: an item clicked without a
    # description is often described on its impression.
    item_texts: dict[str, str] = field(default_factory=dict)
    query_texts: dict[str, str] = field(default_factory=dict)  # UBI query_id → user_query

    def text_for(self, event: Event) -> str | None:
        """Best text for an event's item: its description, else the query that found it."""
        return (
            event.text
            or self.item_texts.get(event.item_id)
            or event.query_text
            or (self.query_texts.get(event.query_id) if event.query_id else None)
        )


def parse_ts(value: Any) -> float:
    """ISO-8601 text, epoch seconds or epoch milliseconds → epoch seconds."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"no timestamp ({value!r})")
    if isinstance(value, int | float):
        number = float(value)
        return number / 1000.0 if number > 1e11 else number
    if isinstance(value, str):
        text = value.strip()
        try:
            return parse_ts(float(text))
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise ValueError(f"timestamp {value!r} is neither ISO-8601 nor epoch") from None
    raise ValueError(f"timestamp of type {type(value).__name__}")


def _str(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _ours(doc: dict[str, Any]) -> Event:
    user, item, kind = _str(doc.get("user_id")), _str(doc.get("item_id")), _str(doc.get("type"))
    if not user:
        raise ValueError("missing user_id")
    if not item:
        raise ValueError("missing item_id")
    if kind not in EVENT_TYPES:
        raise ValueError(f"type {kind!r} is not one of {', '.join(EVENT_TYPES)}")
    return Event(
        user,
        item,
        kind,
        parse_ts(doc.get("ts")),
        text=_str(doc.get("text")) or None,
        brand=_str(doc.get("brand")) or None,
        category=_str(doc.get("category")) or None,
    )


def _ubi_object(doc: dict[str, Any]) -> dict[str, Any] | None:
    attrs = doc.get("event_attributes") or {}
    obj = attrs.get("object") if isinstance(attrs, dict) else None
    return obj if isinstance(obj, dict) else None


def _ubi(doc: dict[str, Any], stats: EventReadStats) -> Event | str:
    """An event, or the reason it is skipped."""
    obj = _ubi_object(doc)
    if obj is not None and _str(obj.get("object_id")) and _str(obj.get("description")):
        stats.item_texts.setdefault(_str(obj["object_id"]), _str(obj["description"]))
    action = _str(doc.get("action_name")).lower()
    kind = UBI_ACTIONS.get(action)
    if kind is None:
        return f"action:{action or 'none'}"
    if obj is None or not _str(obj.get("object_id")):
        return "no_object"
    user = _str(doc.get("client_id")) or _str(doc.get("user_id"))
    if not user:
        raise ValueError("missing client_id")
    raw_detail = obj.get("object_detail")
    detail: dict[str, Any] = raw_detail if isinstance(raw_detail, dict) else {}
    return Event(
        user_id=user,
        item_id=_str(obj["object_id"]),
        type=kind,
        ts=parse_ts(doc.get("timestamp")),
        text=_str(obj.get("description")) or None,
        brand=_str(detail.get("supplier") or detail.get("brand")) or None,
        alt_item_id=_str(obj.get("internal_id")) or None,
        query_id=_str(doc.get("query_id")) or None,
        query_text=_str(doc.get("user_query")) or None,
    )


def _detect(path: Path) -> str:
    """``ubi`` or ``jsonl`` from the first line; an unreadable file or first line is left to
    the reader, which says what is wrong and where."""
    try:
        line = next((line for _, line in numbered_lines(path) if line.strip()), "")
        first = json.loads(line) if line else None
    except (TextFileError, json.JSONDecodeError):
        return "jsonl"
    if isinstance(first, dict) and ("index" in first or "create" in first):
        return "ubi"
    if isinstance(first, dict) and isinstance(first.get("_source"), dict):  # a dump line
        if "ubi" in str(first.get("_index") or ""):
            return "ubi"
        first = first["_source"]
    if isinstance(first, dict) and "action_name" in first:
        return "ubi"
    return "jsonl"


def read_events(
    path: Path, rejects: RejectLog, fmt: str = "auto", stats: EventReadStats | None = None
) -> Iterator[Event]:
    """Events of ``path``; malformed events go to ``rejects``, non-signals are counted."""
    stats = stats if stats is not None else EventReadStats()
    if not path.exists():
        raise FileNotFoundError(f"events file {path} does not exist")
    if fmt == "auto":
        fmt = _detect(path)
    if fmt not in ("jsonl", "ubi"):
        raise ValueError(f"events format {fmt!r}: use auto, jsonl or ubi")
    target_index: str | None = None  # from the preceding bulk action line
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        stats.lines += 1
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            rejects.add(number, None, Reason.BAD_EVENT, f"not valid JSON ({exc.msg})")
            continue
        if not isinstance(doc, dict):
            rejects.add(number, None, Reason.BAD_EVENT, "expected a JSON object")
            continue
        if fmt == "ubi" and isinstance(doc.get("_source"), dict):
            # a dump or search-hit line ({"_index", "_id", "_source"}) names its own index
            target_index = str(doc.get("_index") or "")
            doc = doc["_source"]
        elif fmt == "ubi" and len(doc) == 1 and next(iter(doc)) in ("index", "create"):
            action = next(iter(doc.values())) or {}
            target_index = str(action.get("_index", "")) if isinstance(action, dict) else ""
            continue
        if fmt == "ubi":
            if target_index is not None and target_index and "events" not in target_index:
                stats.skipped["ubi_queries"] += 1
                if _str(doc.get("query_id")) and _str(doc.get("user_query")):
                    stats.query_texts[_str(doc["query_id"])] = _str(doc["user_query"])
                target_index = None
                continue
            target_index = None
            try:
                result = _ubi(doc, stats)
            except ValueError as exc:
                rejects.add(number, None, Reason.BAD_EVENT, str(exc))
                continue
            if isinstance(result, str):
                stats.skipped[result] += 1
                continue
            event = result
        else:
            try:
                event = _ours(doc)
            except ValueError as exc:
                rejects.add(number, doc.get("item_id"), Reason.BAD_EVENT, str(exc))
                continue
        stats.events += 1
        yield event
