"""Validate mapped catalog rows into item documents, sending bad rows to the reject log.

The checks are the ones that would otherwise fail late and far away: a missing or duplicate
id (the document ``_id``), no text to embed or search, a price the engine would refuse as a
float, a precomputed vector of the wrong size.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexer.catalog import RawItem
from indexer.rejects import Reason, RejectLog

__all__ = ["CATEGORY_LEVELS", "ItemDoc", "normalize_category", "validate_items"]

CATEGORY_LEVELS = 3
# The item id again, as a keyword with doc values: the plugin's lean window reads a hit's id
# without touching stored fields (``_id`` lives there). The plugin's LeanWindow default.
ID_FIELD = "item_id"
_SEPARATORS = re.compile(r"\s*(?:/|>|\|)\s*")
# "1,299.00" groups thousands; "1,20" or "1.299,00" use a decimal comma: reading either by
# dropping the commas would index 120 or 1.299 without a word, so only the first is accepted.
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")


@dataclass
class ItemDoc:
    id: str
    title: str
    description: str
    category: str | None
    brand: str | None
    price: float | None
    popularity: float | None = None  # item prior, sent to the sidecar by the plugin
    attrs: dict[str, Any] = field(default_factory=dict)
    embedding: np.ndarray | None = None
    line: int | None = None

    @property
    def text(self) -> str:
        """What we embed: title and description, the fields a shopper reads."""
        return f"{self.title}. {self.description}" if self.description else self.title

    def levels(self) -> list[str]:
        return self.category.split("/") if self.category else []

    def source(self, vector: np.ndarray | list[float] | None) -> dict[str, Any]:
        """The ``_source`` we index (``_id`` is ``self.id``)."""
        doc: dict[str, Any] = {
            ID_FIELD: self.id, "title": self.title, "description": self.description
        }
        if self.category:
            doc["category"] = self.category
            for depth, level in enumerate(self.levels()[:CATEGORY_LEVELS], start=1):
                doc[f"category_l{depth}"] = level
        if self.brand:
            doc["brand"] = self.brand
        if self.price is not None:
            doc["price"] = self.price
        if self.popularity is not None:
            doc["popularity"] = self.popularity
        if self.attrs:
            doc["attrs"] = self.attrs
        if vector is not None:
            doc["embedding"] = vector
        return doc


def normalize_category(value: Any) -> str | None:
    """``"A > B > C"``, ``"A/B/C"``, ``["A", "B", "C"]`` → ``"A/B/C"``; blank → ``None``."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        parts = [str(v).strip() for v in value if str(v).strip()]
    elif isinstance(value, str):
        parts = [p for p in _SEPARATORS.split(value.strip()) if p]
    else:
        raise ValueError(f"expected a string or list, got {type(value).__name__}")
    return "/".join(parts) or None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return " ".join(str(value).split())


def _amount(value: Any, what: str) -> float | None:
    """A finite number >= 0 (price, popularity), None when blank; ValueError naming ``what``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"a boolean is not a {what}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if "," in text:
            if not _THOUSANDS.fullmatch(text):
                raise ValueError(f"{text!r}: a comma only groups thousands (1,299.50)")
            text = text.replace(",", "")
        number = float(text)  # ValueError names the bad text
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{number} is not a valid {what}")
    return number


def _vector(value: Any, dim: int | None) -> np.ndarray | None:
    if value is None:
        return None
    try:
        vec = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError("not a list of numbers") from None
    if vec.ndim != 1:
        raise ValueError(f"expected a flat list, got shape {vec.shape}")
    if dim is not None and vec.shape[0] != dim:
        raise ValueError(f"expected {dim} numbers, got {vec.shape[0]}")
    if not np.all(np.isfinite(vec)):
        raise ValueError("contains NaN or infinity")
    return vec


def validate_items(
    rows: Iterable[RawItem], rejects: RejectLog, dim: int | None = None
) -> Iterator[ItemDoc]:
    """Yield valid items; every other row goes to ``rejects`` with its reason."""
    seen: set[str] = set()
    for row in rows:
        if row.unreadable is not None:
            rejects.add(row.line, None, Reason.MALFORMED_ROW, row.unreadable)
            continue
        item_id = _text(row.id)
        if not item_id:
            rejects.add(row.line, None, Reason.MISSING_ID, "no id")
            continue
        if item_id in seen:
            rejects.add(row.line, item_id, Reason.DUPLICATE_ID, "id seen on an earlier row")
            continue
        title, description = _text(row.title), _text(row.description)
        if not title and not description:
            rejects.add(row.line, item_id, Reason.EMPTY_TEXT, "title and description are empty")
            continue
        try:
            price = _amount(row.price, "price")
        except ValueError as exc:
            rejects.add(row.line, item_id, Reason.BAD_PRICE, f"price {row.price!r}: {exc}")
            continue
        try:
            popularity = _amount(row.popularity, "popularity")
        except ValueError as exc:
            rejects.add(row.line, item_id, Reason.BAD_POPULARITY,
                        f"popularity {row.popularity!r}: {exc}")  # fmt: skip
            continue
        try:
            category = normalize_category(row.category)
        except ValueError as exc:
            rejects.add(row.line, item_id, Reason.BAD_CATEGORY, f"category: {exc}")
            continue
        try:
            vector = _vector(row.embedding, dim)
        except ValueError as exc:
            rejects.add(row.line, item_id, Reason.BAD_VECTOR, f"embedding: {exc}")
            continue
        brand = _text(row.brand) or None
        seen.add(item_id)  # only accepted rows claim an id: a fixed re-send later is kept
        yield ItemDoc(
            id=item_id,
            title=title or description,
            description=description if title else "",
            category=category,
            brand=brand,
            price=price,
            popularity=popularity,
            attrs=row.attrs,
            embedding=vector,
            line=row.line,
        )
