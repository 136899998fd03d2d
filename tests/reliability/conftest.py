"""Fixtures for the fault and bad-input tests: a small catalog with a deterministic engine
order, pipelines, and a bounded concurrent search load.

Sidecars we can kill come from ``launch_sidecar`` / ``sidecars`` in tests/conftest.py: each is
our own ``divrank serve`` subprocess on a free loopback port, in its own session, so the shared
sidecar and the shared engine are never touched. Every index, alias and pipeline is named
``t-rel-<uuid8>-…`` and deleted at the end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
from opensearchpy import OpenSearch

from cli import pipeline
from indexer.mapping import item_index_body

DIM = 8
N_DOCS = 150
# Distinct prices give distinct scores: the engine order has no ties to break.
QUERY: dict[str, Any] = {
    "function_score": {
        "query": {"match": {"title": "toner"}},
        "field_value_factor": {"field": "price"},
        "boost_mode": "replace",
    }
}


@pytest.fixture(scope="session")
def client(engine: str) -> OpenSearch:
    return OpenSearch(engine, timeout=30)


@dataclass(frozen=True)
class Catalog:
    index: str
    prefix: str
    engine_pages: dict[int, list[str]]  # engine order of each page `from`, size 10


@pytest.fixture(scope="session")
def catalog(client: OpenSearch) -> Iterator[Catalog]:
    """150 items in 5 near-duplicate clusters, so re-ranking visibly changes the page."""
    prefix = f"t-rel-{uuid.uuid4().hex[:8]}"
    index = f"{prefix}-items"
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(5, DIM))
    # the product's own item mapping (the indexer's), so these tests see what users index
    client.indices.create(index=index, body=item_index_body(DIM, {"fixture": prefix}))
    try:
        lines: list[dict[str, Any]] = []
        for i in range(N_DOCS):
            cluster = i // 30
            vec = centers[cluster] + 0.05 * rng.normal(size=DIM)
            vec /= np.linalg.norm(vec)
            lines.append({"index": {"_index": index, "_id": f"r{i}"}})
            lines.append({"title": f"toner cartridge model {i}",
                          "category": f"printing/toner/c{cluster}", "brand": f"brand{i % 7}",
                          "price": 10.0 + i, "embedding": [round(float(x), 6) for x in vec]})
        client.bulk(body=lines, refresh=True)
        pages = {}
        for start in (0, 10, 20):
            resp = client.search(index=index, body={"from": start, "size": 10, "query": QUERY})
            pages[start] = [hit["_id"] for hit in resp["hits"]["hits"]]
        yield Catalog(index, prefix, pages)
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)


@pytest.fixture()
def pipelines(client: OpenSearch, catalog: Catalog) -> Iterator[Callable[..., str]]:
    """Factory: install a uniquely named pipeline (PipelineConfig keywords); deleted after."""
    names: list[str] = []

    def make(**kwargs: Any) -> str:
        name = f"{catalog.prefix}-pipe-{uuid.uuid4().hex[:6]}"
        pipeline.install(client, pipeline.PipelineConfig(name=name, **kwargs))
        names.append(name)
        return name

    yield make
    for name in names:
        pipeline.delete(client, name)


# --- bounded concurrent search load -------------------------------------------------------

KNOB_MIX: tuple[dict[str, Any], ...] = (
    {"diversity": 0.8, "strategy": "mmr"},
    {"diversity": 0.7, "strategy": "dpp"},
    {"diversity": 0.6, "strategy": "fusion", "user_id": "rel-u1",
     "history": {"item_ids": ["r3", "r40", "r77"]}},
    {"diversity": 0.9, "strategy": "fusion", "explain": True},
)


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic() when sent
    elapsed: float  # seconds
    page_from: int
    status: int  # 0: transport error
    ids: tuple[str, ...]
    ext: dict[str, Any]
    error: str | None


@dataclass
class SearchLoad:
    """``threads`` workers searching ``index`` through ``pipe`` until stopped or bounded.

    Bounded twice: at most ``max_requests`` searches and ``max_seconds`` of wall time.
    """

    engine: str
    index: str
    pipe: str
    threads: int = 4
    max_requests: int = 3000
    max_seconds: float = 50.0
    pages: tuple[int, ...] = (0, 10, 0, 20)
    pause_s: float = 0.01  # per thread between searches: degraded answers are very fast
    outcomes: list[Outcome] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _sent: int = 0

    def _next(self) -> int | None:
        with self._lock:
            if self._sent >= self.max_requests:
                return None
            self._sent += 1
            return self._sent

    def _work(self, deadline: float) -> None:
        with httpx.Client(base_url=self.engine, timeout=30) as http:
            while not self._stop.is_set() and time.monotonic() < deadline:
                n = self._next()
                if n is None:
                    return
                page = self.pages[n % len(self.pages)]
                body = {"from": page, "size": 10, "query": QUERY,
                        "ext": {"divrank": KNOB_MIX[n % len(KNOB_MIX)]}}
                started = time.monotonic()
                try:
                    resp = http.post(f"/{self.index}/_search",
                                     params={"search_pipeline": self.pipe}, json=body)
                except httpx.HTTPError as exc:
                    outcome = Outcome(started, time.monotonic() - started, page, 0, (), {},
                                      f"{type(exc).__name__}: {exc}")
                else:
                    data = resp.json() if resp.status_code == 200 else {}
                    outcome = Outcome(
                        started, time.monotonic() - started, page, resp.status_code,
                        tuple(h["_id"] for h in data.get("hits", {}).get("hits", [])),
                        data.get("ext", {}).get("divrank", {}),
                        None if resp.status_code == 200 else resp.text[:500])
                with self._lock:
                    self.outcomes.append(outcome)
                self._stop.wait(self.pause_s)

    def __enter__(self) -> SearchLoad:
        deadline = time.monotonic() + self.max_seconds
        self._workers = [threading.Thread(target=self._work, args=(deadline,), daemon=True)
                         for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(60)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def wait_for(self, predicate: Callable[[list[Outcome]], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self.snapshot()):
                return True
            if not any(w.is_alive() for w in self._workers):
                return predicate(self.snapshot())
            time.sleep(0.05)
        return False


@pytest.fixture()
def search_load(engine: str, catalog: Catalog) -> Callable[..., SearchLoad]:
    def make(pipe: str, **kwargs: Any) -> SearchLoad:
        return SearchLoad(engine, catalog.index, pipe, **kwargs)

    return make
