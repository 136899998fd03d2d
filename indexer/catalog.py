"""Read a catalog file (JSONL, CSV or Parquet) and map its columns onto our item fields.

Catalogs name their columns differently, so a :class:`FieldMap` says which source column feeds
which item field; it comes from CLI flags or a small YAML/TOML file such as::

    id: sku
    title: name
    description: long_text
    category: breadcrumbs        # "A/B/C", "A > B > C" or a list
    brand: manufacturer
    price: price_eur
    popularity: buyers_90d       # optional item prior (how many shoppers had it), >= 0
    embedding: vector            # optional precomputed vectors
    attrs: [color, size]         # extra attributes kept under ``attrs``; "*" = all the rest

Values are not validated here (that is :mod:`indexer.items`); a row keeps its line number so
a reject can say where it came from. A line that is not a row at all (broken JSON, a CSV line
with more cells than the header) is not a reason to stop a long load either: it becomes a
:class:`RawItem` marked ``unreadable``, which validation turns into a ``malformed_row`` reject.
A file that cannot be read (not UTF-8, not Parquet) stops the run.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from indexer.text_files import TextFileError, numbered_lines, plain_name

__all__ = [
    "CatalogError",
    "FieldMap",
    "RawItem",
    "Unreadable",
    "detect_format",
    "load_field_map",
    "map_row",
    "read_catalog",
    "read_rows",
]

FORMATS = ("jsonl", "csv", "parquet")
# Python's csv module refuses cells over 128 KiB; a long HTML description is a real cell.
CSV_CELL_LIMIT = 2**31 - 1  # the largest it takes everywhere (a C long)


class CatalogError(ValueError):
    """The catalog or its field mapping cannot be read; the message names the file and place."""


@dataclass(frozen=True)
class FieldMap:
    """Source column per item field; ``None`` = the catalog has no such column."""

    id: str = "id"
    title: str = "title"
    description: str | None = "description"
    category: str | None = "category"
    brand: str | None = "brand"
    price: str | None = "price"
    popularity: str | None = "popularity"
    embedding: str | None = None
    attrs: tuple[str, ...] = ()  # ("*",) = every column not mapped above

    def mapped_columns(self) -> set[str]:
        return {
            v
            for f in fields(self)
            if f.name != "attrs"
            for v in [getattr(self, f.name)]
            if isinstance(v, str)
        }

    def with_overrides(self, **overrides: Any) -> FieldMap:
        """A copy with the non-``None`` overrides applied (CLI flags beat the config file)."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, value in overrides.items():
            if value is None:
                continue
            if key not in current:
                raise CatalogError(f"unknown field-map key {key!r}")
            current[key] = tuple(value) if key == "attrs" else value
        return FieldMap(**current)


@dataclass
class RawItem:
    """One catalog row mapped onto our field names, still unvalidated."""

    line: int
    id: Any
    title: Any
    description: Any = None
    category: Any = None
    brand: Any = None
    price: Any = None
    popularity: Any = None
    embedding: Any = None
    attrs: dict[str, Any] = field(default_factory=dict)
    unreadable: str | None = None  # why the line is not a row; validation rejects it


@dataclass(frozen=True)
class Unreadable:
    """A line of the file that is not a row; ``detail`` says what is wrong with it."""

    detail: str


Row = dict[str, Any] | Unreadable


def load_field_map(path: Path) -> FieldMap:
    """Read a field mapping from YAML (.yml/.yaml) or TOML (.toml)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read field map {path}: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yml", ".yaml"):
            data = yaml.safe_load(text) or {}
        else:
            raise CatalogError(f"field map {path}: use .yaml, .yml or .toml")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"field map {path} is not valid: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"field map {path}: expected a mapping of field → column")
    data = data.get("fields", data)
    known = {f.name for f in fields(FieldMap)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CatalogError(
            f"field map {path}: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    attrs = data.get("attrs", ())
    if isinstance(attrs, str):
        attrs = (attrs,)
    return FieldMap().with_overrides(**{**data, "attrs": tuple(attrs)})


def detect_format(path: Path) -> str:
    name = plain_name(path)  # "catalog.csv.gz" is CSV, read through gzip
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise CatalogError(
        f"{path}: cannot tell the format from the name; pass --format jsonl|csv|parquet"
    )


def read_rows(path: Path, fmt: str | None = None) -> Iterator[tuple[int, Row]]:
    """Yield ``(line_number, row)``; a line that is not a row comes as :class:`Unreadable`."""
    fmt = fmt or detect_format(path)
    if not path.exists():
        raise CatalogError(f"catalog {path} does not exist")
    readers = {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet}
    if fmt not in readers:
        raise CatalogError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    try:
        yield from readers[fmt](path)
    except TextFileError as exc:
        raise CatalogError(str(exc)) from None


def _read_jsonl(path: Path) -> Iterator[tuple[int, Row]]:
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, Unreadable(f"not valid JSON ({exc.msg}, column {exc.colno})")
            continue
        if not isinstance(row, dict):
            yield number, Unreadable(f"expected a JSON object per line, got {line[:40]!r}")
            continue
        yield number, row


def _read_csv(path: Path) -> Iterator[tuple[int, Row]]:
    delimiter = "\t" if plain_name(path).endswith(".tsv") else ","
    csv.field_size_limit(CSV_CELL_LIMIT)
    reader = csv.DictReader((line for _, line in numbered_lines(path)), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, start=2):  # line 1 is the header
            if None in row:  # DictReader puts cells past the header under None
                cells = len(reader.fieldnames or ()) + len(row[None])
                yield number, Unreadable(
                    f"{cells} cells where the header has {len(reader.fieldnames or ())} "
                    "(an unquoted delimiter inside a value?)"
                )
                continue
            yield number, dict(row)
    except csv.Error as exc:
        raise CatalogError(f"{path}:{reader.line_num}: not readable CSV ({exc})") from None


def _read_parquet(path: Path) -> Iterator[tuple[int, Row]]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise CatalogError(f"{path}: not a readable Parquet file ({exc})") from None
    number = 0
    for batch in table.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def _parse_embedding(value: Any) -> Any:
    """CSV cells carry vectors as JSON text; other formats already give lists."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def map_row(line: int, row: dict[str, Any], fmap: FieldMap) -> RawItem:
    def get(column: str | None) -> Any:
        return row.get(column) if column else None

    if fmap.attrs == ("*",):
        mapped = fmap.mapped_columns()
        attrs = {k: v for k, v in row.items() if k not in mapped and v not in (None, "")}
    else:
        attrs = {k: row[k] for k in fmap.attrs if row.get(k) not in (None, "")}
    return RawItem(
        line=line,
        id=get(fmap.id),
        title=get(fmap.title),
        description=get(fmap.description),
        category=get(fmap.category),
        brand=get(fmap.brand),
        price=get(fmap.price),
        popularity=get(fmap.popularity),
        embedding=_parse_embedding(get(fmap.embedding)),
        attrs=attrs,
    )


def read_catalog(path: Path, fmap: FieldMap, fmt: str | None = None) -> Iterator[RawItem]:
    """Rows of ``path`` mapped through ``fmap``; a line that is not a row stays marked."""
    for line, row in read_rows(path, fmt):
        if isinstance(row, Unreadable):
            yield RawItem(line=line, id=None, title=None, unreadable=row.detail)
        else:
            yield map_row(line, row, fmap)
