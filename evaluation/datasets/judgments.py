"""A shop's judgment list as an evaluation set: judged queries over its own catalog.

The other half of "measure it before you switch it on" (the log replay is the first): a search
team's graded (query, item, rating) judgments, in OpenSearch Search Relevance Workbench's
import format (``{"judgmentRatings": [{"query", "ratings": [{"docId", "rating"}]}]}``, a
``.json`` file) or as rows of a JSONL/CSV/TSV/Parquet file with a query, an item id and a
rating column (``query``/``search_term``, ``doc_id``/``docId``/``item_id``/``product_uid``,
``rating``/``relevance``/``grade``). Candidates come from the real engine over the shop's
catalog; the judgments are shallow (an unjudged item is unknown, not irrelevant), so reports
carry judged@10 and judged-only NDCG beside NDCG.

Ratings become integer gains by their order, since scales differ: one level alone (a list of
relevant items) is gain 1; integer grades that start at 0 (0..3, 0/1) are kept; up to 11
levels otherwise rank 0, 1, 2, … (ESCI's 0/1/10/100 become 0..3, Home Depot's thirds 1..3
become 0..6, 1..5 stars 0..4); more levels are scaled linearly onto 0..10. The report says
which rule applied.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation.datasets.shop_files import files_fingerprint, read_shop_catalog, short_label
from evaluation.datasets.types import Dataset, Request
from indexer.catalog import CatalogError, FieldMap, Unreadable, read_rows

__all__ = ["JudgmentsLoader", "gain_scale", "read_judgments"]

QUERY_COLUMNS = ("query", "query_text", "queryText", "search_term")
ITEM_COLUMNS = ("doc_id", "docId", "item_id", "product_id", "product_uid", "id")
RATING_COLUMNS = ("rating", "relevance", "grade", "gain", "judgment")
MOST_LEVELS = 11


def gain_scale(ratings: Sequence[float]) -> tuple[dict[float, int], str]:
    """Each distinct rating's integer gain, and one line saying how they were made."""
    levels = sorted(set(ratings))
    if not levels:
        return {}, "no ratings"
    if len(levels) == 1:  # a list of relevant items only (every rating the same)
        gain = int(levels[0] > 0)
        return {levels[0]: gain}, f"one rating level ({levels[0]:g}) → gain {gain}"
    if levels[0] == 0 and all(r.is_integer() and r <= 10 for r in levels):
        return {r: int(r) for r in levels}, "integer grades from 0: gains as they are"
    if len(levels) <= MOST_LEVELS:
        shown = ", ".join(f"{r:g}" for r in levels)
        return {r: n for n, r in enumerate(levels)}, (
            f"ratings {shown} → gains 0..{len(levels) - 1} by their order"
        )
    lo, hi = levels[0], levels[-1]
    return {r: round(10 * (r - lo) / (hi - lo)) for r in levels}, (
        f"{len(levels)} rating levels in [{lo:g}, {hi:g}] → gains 0..10, linear"
    )


def read_judgments(path: Path, stats: Counter[str]) -> list[tuple[str, str, float]]:
    """``(query, item id, rating)`` triples; unusable rows are counted in ``stats``."""
    rows = _srw_rows(path) if path.suffix.lower() == ".json" else _table_rows(path)
    out: list[tuple[str, str, float]] = []
    for query, item, rating in rows:
        text, doc = str(query or "").strip(), str(item if item is not None else "").strip()
        try:
            value = float(str(rating).strip())
        except ValueError:
            value = math.nan
        if not text or not doc or not math.isfinite(value):
            stats["judgment rows without a query, an item or a numeric rating"] += 1
            continue
        out.append((text, doc, value))
    return out


def _srw_rows(path: Path) -> Iterator[tuple[Any, Any, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: not a JSON judgment file ({exc})") from None
    entries = data.get("judgmentRatings") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: expected Search Relevance Workbench judgments "
                           '({"judgmentRatings": [{"query", "ratings": [...]}]})')  # fmt: skip
    for n, entry in enumerate(entries):
        ratings = entry.get("ratings") if isinstance(entry, dict) else None
        if not isinstance(ratings, list):
            raise CatalogError(f"{path}: judgmentRatings[{n}] has no list of ratings")
        for rating in ratings:
            if isinstance(rating, dict):
                yield entry.get("query"), rating.get("docId"), rating.get("rating")
            else:
                yield None, None, None


def _table_rows(path: Path) -> Iterator[tuple[Any, Any, Any]]:
    columns: tuple[str, str, str] | None = None
    for line, row in read_rows(path):
        if isinstance(row, Unreadable):
            yield None, None, None
            continue
        if columns is None:
            columns = _columns(path, line, row)
        query, item, rating = columns
        yield row.get(query), row.get(item), row.get(rating)


def _columns(path: Path, line: int, row: dict[str, Any]) -> tuple[str, str, str]:
    def pick(names: tuple[str, ...], what: str) -> str:
        found = next((n for n in names if n in row), None)
        if found is None:
            raise CatalogError(f"{path}:{line}: no {what} column (one of {', '.join(names)}); "
                               f"the row has {', '.join(map(str, row)) or 'none'}")  # fmt: skip
        return found

    return (pick(QUERY_COLUMNS, "query"), pick(ITEM_COLUMNS, "item id"),
            pick(RATING_COLUMNS, "rating"))  # fmt: skip


@dataclass
class JudgmentsLoader:
    """``DatasetLoader`` over a catalog file and a judgments file (``divrank eval --catalog
    --judgments``). ``stats`` says afterwards what was read, kept and left out, and why."""

    catalog_path: Path
    judgments_path: Path
    field_map: FieldMap = field(default_factory=FieldMap)
    label: str | None = None  # short name for reports; default the judgments file's stem
    stats: Counter[str] = field(default_factory=Counter)
    gains: str = ""  # how ratings became gains, after load()
    kind = "judged"

    @property
    def name(self) -> str:
        """``judged-<label>-<fingerprint>``: the episode cache follows the files."""
        stamp = files_fingerprint((self.catalog_path, self.judgments_path), str(self.field_map))
        return f"judged-{self.short_name}-{stamp}"

    @property
    def short_name(self) -> str:
        return short_label(self.label, self.judgments_path, "judgments")

    def describe(self) -> str:
        """The report's note on where the requests and their ground truth came from."""
        return (
            f"judgments {self.judgments_path.name} over {self.catalog_path.name}: each judged "
            f"query is a request, graded by its ratings ({self.gains}); unjudged = unknown; "
            "splits by query; " + ", ".join(f"{k}: {v}" for k, v in self.stats.items())
        )

    def load(self, data_dir: Path, cache_dir: Path) -> Dataset:
        del data_dir, cache_dir  # everything comes from the two files
        catalog = read_shop_catalog(self.catalog_path, self.field_map, self.stats)
        triples = read_judgments(self.judgments_path, self.stats)
        scale, self.gains = gain_scale([rating for *_, rating in triples])
        known = set(catalog.ids)
        by_query: dict[str, dict[str, int]] = {}
        for query, item, rating in triples:
            if item not in known:
                self.stats["judgments on items not in the catalog"] += 1
                continue
            judged = by_query.setdefault(query, {})
            if item in judged:
                self.stats["repeated judgments (the highest kept)"] += 1
            judged[item] = max(judged.get(item, 0), scale[rating])
        if not by_query:
            raise ValueError(f"{self.judgments_path}: no judgment names an item of "
                             f"{self.catalog_path}")  # fmt: skip
        self.stats["judgments"] = sum(len(j) for j in by_query.values())
        self.stats["judged queries"] = len(by_query)
        requests = [
            Request(qid=f"j{n:05d}", query=query, judgments=judged, group=query)
            for n, (query, judged) in enumerate(by_query.items())
        ]
        return Dataset(
            name=self.name,
            catalog=catalog,
            requests=requests,
            shallow_judgments=True,
            retrievals=("bm25", "hybrid", "knn"),
        )
