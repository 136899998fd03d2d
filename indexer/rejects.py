"""Rows we refuse to index: why, where, and whether there were too many.

A bad row must not stop a 20,000-row load, and must not vanish silently either: each one is
written as one JSON line ``{"line", "id", "reason", "detail"}`` and counted by reason, and the
run fails when the share of rejects exceeds ``--max-reject-ratio``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

__all__ = ["Reason", "RejectLog", "RejectSummary"]


class Reason(StrEnum):
    MALFORMED_ROW = "malformed_row"
    MISSING_ID = "missing_id"
    EMPTY_TEXT = "empty_text"
    DUPLICATE_ID = "duplicate_id"
    BAD_PRICE = "non_numeric_price"
    BAD_POPULARITY = "bad_popularity"
    BAD_VECTOR = "wrong_vector_size"
    BAD_CATEGORY = "bad_category"
    ENGINE_REJECTED = "engine_rejected"
    UNKNOWN_ITEM = "unknown_item"
    BAD_EVENT = "bad_event"


@dataclass
class RejectSummary:
    total: int
    rejected: int
    by_reason: dict[str, int]
    path: Path | None
    first: str | None = None  # where the first rejected row is and what is wrong with it

    @property
    def ratio(self) -> float:
        return self.rejected / self.total if self.total else 0.0

    def describe(self) -> str:
        if not self.rejected:
            return f"{self.total} rows, no rejects"
        parts = ", ".join(f"{reason}={n}" for reason, n in sorted(self.by_reason.items()))
        where = f" (see {self.path})" if self.path else ""
        first = f"; first: {self.first}" if self.first else ""
        return (
            f"{self.rejected} of {self.total} rows rejected ({self.ratio:.1%}): {parts}{where}"
            f"{first}"
        )


@dataclass
class RejectLog:
    """Append rejects to a JSONL file (opened lazily: no file when nothing is rejected)."""

    path: Path | None
    counts: Counter[str] = field(default_factory=Counter)
    first: str | None = None  # "line N (reason): detail" of the first reject
    _fh: IO[str] | None = None

    def __post_init__(self) -> None:
        # A rejects file left by an earlier run would describe rows this run accepted. Only a
        # regular file is removed: `--rejects /dev/null` must never delete the device node.
        if self.path is not None and self.path.is_file() and not self.path.is_symlink():
            self.path.unlink()

    def add(self, line: int | None, item_id: Any, reason: Reason, detail: str) -> None:
        self.counts[reason.value] += 1
        if self.first is None:
            where = f"line {line}" if line is not None else "a row"
            self.first = f"{where} ({reason.value}): {detail}"
        if self.path is None:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", encoding="utf-8")
        record = {
            "line": line,
            "id": None if item_id is None else str(item_id),
            "reason": reason.value,
            "detail": detail,
        }
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    @property
    def rejected(self) -> int:
        return sum(self.counts.values())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def summary(self, total: int) -> RejectSummary:
        self.close()
        return RejectSummary(
            total=total,
            rejected=self.rejected,
            by_reason=dict(self.counts),
            path=self.path if self.rejected else None,
            first=self.first,
        )
