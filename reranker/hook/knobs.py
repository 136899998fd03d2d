"""``ext.divrank`` for the client-side hook: the same fields and messages as the plugin's.

Elasticsearch has no search pipelines, so the hook reads the block from the caller's body (and
from keyword arguments, which win) and removes it before the engine sees the request. Bad values
raise :class:`DivrankRequestError` naming the field, worded like the plugin's 400s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reranker.contract import MAX_HISTORY, MAX_WINDOW, STRATEGIES

__all__ = [
    "DivrankRequestError",
    "HookKnobs",
    "parse_ext",
]

FIELDS = frozenset(
    {
        "user_id",
        "diversity",
        "strategy",
        "explain",
        "history",
        "window_size",
        "max_per_brand",
        "max_per_category",
        "relevance_model",
    }
)


class DivrankRequestError(ValueError):
    """The caller's divrank options are invalid (the plugin answers these with a 400)."""


@dataclass(frozen=True)
class HookKnobs:
    user_id: str | None = None
    diversity: float | None = None
    strategy: str | None = None
    explain: bool | None = None
    history: tuple[str, ...] | None = None
    window_size: int | None = None
    max_per_brand: int | None = None
    max_per_category: int | None = None
    relevance_model: bool | None = None  # None = the sidecar's default (on when it has one)


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DivrankRequestError(f"[ext.divrank.{key}] must be a non-empty string, got [{value}]")
    return value


def _unit(key: str, value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0
    if not ok:
        raise DivrankRequestError(f"[ext.divrank.{key}] must be a number in [0, 1], got [{value}]")
    return float(value)


def _integer(key: str, value: Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise DivrankRequestError(
            f"[ext.divrank.{key}] must be an integer in [{low}, {high}], got [{value}]"
        )
    return value


def _history(value: Any) -> tuple[str, ...]:
    if not isinstance(value, Mapping):
        raise DivrankRequestError(
            '[ext.divrank.history] must be an object like {"item_ids": [...]}'
        )
    for key in value:
        if key != "item_ids":
            raise DivrankRequestError(
                f"[ext.divrank.history.{key}] is not a known field; expected [item_ids]"
            )
    ids = value.get("item_ids")
    if ids is None:
        return ()
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise DivrankRequestError("[ext.divrank.history.item_ids] must be a list of strings")
    if len(ids) > MAX_HISTORY:
        raise DivrankRequestError(
            f"[ext.divrank.history.item_ids] holds more than {MAX_HISTORY} ids"
        )
    return tuple(dict.fromkeys(ids))


def parse_ext(block: Any) -> HookKnobs:
    """Validate an ``ext.divrank`` block (``None`` = all defaults)."""
    if block is None:
        return HookKnobs()
    if not isinstance(block, Mapping):
        raise DivrankRequestError("[ext.divrank] must be an object")
    for key in block:
        if key not in FIELDS:
            raise DivrankRequestError(
                f"[ext.divrank.{key}] is not a known field; expected one of {sorted(FIELDS)}"
            )

    def get(key: str) -> Any:
        return block.get(key)

    strategy = get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise DivrankRequestError(
            f"[ext.divrank.strategy] must be one of {list(STRATEGIES)}, got [{strategy}]"
        )
    explain, relevance_model = get("explain"), get("relevance_model")
    for key, flag in (("explain", explain), ("relevance_model", relevance_model)):
        if flag is not None and not isinstance(flag, bool):
            raise DivrankRequestError(f"[ext.divrank.{key}] must be true or false, got [{flag}]")
    return HookKnobs(
        user_id=None if get("user_id") is None else _string("user_id", get("user_id")),
        diversity=None if get("diversity") is None else _unit("diversity", get("diversity")),
        strategy=strategy,
        explain=explain,
        history=None if get("history") is None else _history(get("history")),
        window_size=None
        if get("window_size") is None
        else _integer("window_size", get("window_size"), 1, MAX_WINDOW),
        max_per_brand=None
        if get("max_per_brand") is None
        else _integer("max_per_brand", get("max_per_brand"), 1, MAX_WINDOW),
        max_per_category=None
        if get("max_per_category") is None
        else _integer("max_per_category", get("max_per_category"), 1, MAX_WINDOW),
        relevance_model=relevance_model,
    )
