"""A shop's own logs as an evaluation set: catalog + events, split by time, replayed.

What a shop runs before switching divrank on. Per user, events are split at a cut: the
profile sees only what came before it; each later search becomes a request. A UBI log names
its searches (``query_id`` and the query text): the request is that text, graded by what the
user did on its results. A log without searches (a purchase log) gets "category queries":
the category of an item the user later bought or clicked is the query, graded by what the
user did later among its results. Grades: purchase 3 > cart 2 > click 1 (views are seen, not
chosen: 0).

The cut is either a share of each user's events (``0.8``: the oldest 80% are the history) or
one moment for everyone (ISO-8601 or epoch seconds: "the profiles as of that day").
Candidates then come from the real engine like any other dataset (``evaluation.build``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from evaluation.datasets.shop_files import files_fingerprint, read_shop_catalog, short_label
from evaluation.datasets.types import Catalog, Dataset, Request
from indexer.catalog import FieldMap
from indexer.events import Event, EventReadStats, parse_ts, read_events
from indexer.profiles import ProfileConfig, event_weight
from indexer.rejects import RejectLog

__all__ = ["GRADES", "Cut", "ReplayLoader", "parse_cut", "split_user"]

GRADES = {"view": 0, "click": 1, "cart": 2, "purchase": 3}


@dataclass(frozen=True)
class Cut:
    """Where history ends: a share of each user's events, or one moment (epoch seconds)."""

    share: float | None = None
    at: float | None = None

    def __post_init__(self) -> None:
        if (self.share is None) == (self.at is None):
            raise ValueError("a cut is either a share of each user's events or a moment")
        if self.share is not None and not 0.0 < self.share < 1.0:
            raise ValueError(f"a cut share must lie strictly between 0 and 1, got {self.share}")

    def label(self) -> str:
        return f"share {self.share:g}" if self.share is not None else f"at {self.at:.0f}"


def parse_cut(text: str) -> Cut:
    """``0.8`` → the oldest 80% of each user's events; ``2024-06-01`` or epoch → a moment."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if 0.0 < value < 1.0:
        return Cut(share=value)
    try:
        return Cut(at=parse_ts(text))
    except ValueError:
        raise ValueError(
            f"--cut {text!r}: give a share of each user's events in (0, 1), e.g. 0.8, or a "
            "moment (ISO-8601 or epoch seconds)"
        ) from None


def split_user(events: Sequence[Event], cut: Cut) -> tuple[list[Event], list[Event], float]:
    """(history, later, cut time) of one user's events, oldest first.

    Everything in the history is strictly older than everything later: events at the cut
    moment itself are later, so no event of the evaluated period can reach the profile.
    """
    ordered = sorted(events, key=lambda e: e.ts)
    if cut.at is not None:
        at = cut.at
    else:
        assert cut.share is not None
        index = min(max(1, round(len(ordered) * cut.share)), max(len(ordered) - 1, 0))
        at = ordered[index].ts if ordered else 0.0
    return [e for e in ordered if e.ts < at], [e for e in ordered if e.ts >= at], at


@dataclass
class ReplayLoader:
    """``DatasetLoader`` over a catalog file and an events file (``divrank eval --catalog
    --events``). ``stats`` says afterwards what was read, kept and left out, and why."""

    catalog_path: Path
    events_path: Path
    cut: Cut = field(default_factory=lambda: Cut(share=0.8))
    queries_per_user: int = 3
    field_map: FieldMap = field(default_factory=FieldMap)
    label: str | None = None  # short name for reports; default the events file's stem
    stats: Counter[str] = field(default_factory=Counter)
    kind = "replay"

    @property
    def name(self) -> str:
        """``replay-<label>-<fingerprint>``: the episode cache follows the files and options."""
        # the history weights are built in: another item half-life is another data set
        memory = ProfileConfig().item_half_life_days
        options = f"{self.cut.label()}:{self.queries_per_user}:{self.field_map}:{memory}"
        stamp = files_fingerprint((self.catalog_path, self.events_path), options)
        return f"replay-{self.short_name}-{stamp}"

    @property
    def short_name(self) -> str:
        """``label``, else the events file's folder and stem (lowercase, for index names)."""
        return short_label(self.label, self.events_path, "log")

    def describe(self) -> str:
        """The report's note on where the requests and their ground truth came from."""
        return (
            f"replay of {self.events_path.name} over {self.catalog_path.name}: each user's "
            f"history ends at the cut ({self.cut.label()}); later searches (the log's own, or "
            f"up to {self.queries_per_user} category queries per user) graded purchase 3 > "
            "cart 2 > click 1 among the engine's candidates; splits by user; "
            + ", ".join(f"{k}: {v}" for k, v in self.stats.items())
        )

    def load(self, data_dir: Path, cache_dir: Path) -> Dataset:
        del data_dir, cache_dir  # everything comes from the two files
        catalog = read_shop_catalog(self.catalog_path, self.field_map, self.stats)
        known = set(catalog.ids)
        stats = EventReadStats()
        rejects = RejectLog(None)
        by_user: dict[str, list[Event]] = defaultdict(list)
        for event in read_events(self.events_path, rejects, stats=stats):
            item = event.item_id if event.item_id in known else event.alt_item_id
            if item not in known:
                self.stats["events on items not in the catalog"] += 1
                continue
            if item != event.item_id:
                event = replace(event, item_id=item)
            by_user[event.user_id].append(event)
        self.stats["events read"] = stats.events
        self.stats["malformed events"] = rejects.rejected
        requests, touched = self._requests(by_user, catalog, stats)
        users = max(len(by_user), 1)
        popularity = np.array([touched[i] / users for i in catalog.ids], dtype=np.float32)
        catalog = replace(catalog, popularity=popularity)
        self.stats["users"] = len(by_user)
        self.stats["requests"] = len(requests)
        return Dataset(
            name=self.name,
            catalog=catalog,
            requests=requests,
            shallow_judgments=False,
            retrievals=("bm25", "hybrid", "knn"),
            item_prior=True,
        )

    def _requests(
        self, by_user: dict[str, list[Event]], catalog: Catalog, stats: EventReadStats
    ) -> tuple[list[Request], Counter[str]]:
        category_of = {i: c[0] for i, c in zip(catalog.ids, catalog.categories, strict=True) if c}
        half_life = ProfileConfig().item_half_life_days  # the weights feed the item memory
        requests: list[Request] = []
        touched: Counter[str] = Counter()
        for user in sorted(by_user):
            history, later, at = split_user(by_user[user], self.cut)
            if not history:
                self.stats["users without history before the cut"] += 1
            if not later:
                self.stats["users without events after the cut"] += 1
                continue
            touched.update({e.item_id for e in history})
            ids = tuple(e.item_id for e in history)
            weights = tuple(event_weight(e, at, half_life) for e in history)
            for n, (query, judgments) in enumerate(self._searches(later, category_of, stats)):
                requests.append(Request(
                    qid=f"{user}:{n}", query=query, user_id=user, history=ids,
                    judgments=judgments, history_weights=weights, group=user,
                    window_only=True,
                ))  # fmt: skip
        return requests, touched

    def _searches(
        self, later: list[Event], category_of: dict[str, str], stats: EventReadStats
    ) -> list[tuple[str, dict[str, int]]]:
        """(query, graded items) per later search: the log's own, else category queries."""
        named: dict[str, list[Event]] = defaultdict(list)
        for e in later:
            text = e.query_text or (stats.query_texts.get(e.query_id) if e.query_id else None)
            if e.query_id and text:
                named[text].append(e)
        if named:
            out = [(text, _grades(events)) for text, events in named.items()]
            return [(q, g) for q, g in out if any(v > 0 for v in g.values())]
        grades = _grades(later)
        top = max(grades.values())
        if top <= 0:
            return []
        wanted = Counter(
            category_of[e.item_id].split("/")[-1]
            for e in later
            if GRADES[e.type] == top and e.item_id in category_of
        )
        return [(leaf, grades) for leaf, _ in wanted.most_common(self.queries_per_user)]


def _grades(events: Sequence[Event]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:
        out[e.item_id] = max(out.get(e.item_id, 0), GRADES[e.type])
    return out
