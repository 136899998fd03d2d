"""Free text of a search body, for the sidecar's intent detection (as the plugin's QueryText).

Walks the scoring clauses of common compound queries and collects the text of full-text
leaves; filters are ignored and unknown query types contribute nothing, so the worst case is
"no intent detected".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["query_text"]

MAX_DEPTH = 16
MAX_CHARS = 1000
_LEAVES = ("match", "match_phrase", "match_phrase_prefix", "match_bool_prefix")


def _leaf(kind: str, spec: Any) -> str | None:
    if kind in _LEAVES and isinstance(spec, Mapping):
        for value in spec.values():
            text = value.get("query") if isinstance(value, Mapping) else value
            return None if text is None else str(text)
    if kind in ("multi_match", "query_string", "simple_query_string") and isinstance(spec, Mapping):
        text = spec.get("query")
        return None if text is None else str(text)
    return None


def _children(kind: str, spec: Any) -> Iterator[Any]:
    if not isinstance(spec, Mapping):
        return
    if kind == "bool":
        for clause in ("must", "should"):
            value = spec.get(clause)
            yield from value if isinstance(value, list) else [value] if value else []
    elif kind in ("function_score", "script_score"):
        yield spec.get("query")
    elif kind == "constant_score":
        yield spec.get("filter")
    elif kind == "dis_max":
        yield from spec.get("queries") or []
    elif kind == "boosting":
        yield spec.get("positive")


def _collect(query: Any, parts: dict[str, None], depth: int) -> None:
    if not isinstance(query, Mapping) or depth > MAX_DEPTH:
        return
    for kind, spec in query.items():
        text = _leaf(kind, spec)
        if text is not None:
            if text.strip():
                parts[text.strip()] = None
            continue
        for child in _children(kind, spec):
            _collect(child, parts, depth + 1)


def query_text(query: Any) -> str | None:
    """Distinct full-text parts joined by a space (at most 1000 characters), or None."""
    parts: dict[str, None] = {}
    _collect(query, parts, 0)
    text = " ".join(parts).strip()
    return text[:MAX_CHARS] if text else None
