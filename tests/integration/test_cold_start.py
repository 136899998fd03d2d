"""Cold start and history edge cases through the real engine, plugin and sidecar, with profiles
built by ``divrank profiles build`` from an events file: a user never seen, a user with one
event, one with 500, and one whose whole history is a single category (the page must not
collapse onto it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opensearchpy import OpenSearch

from cli import pipeline
from config.settings import REPO_ROOT
from indexer.mapping import item_index_body

pytestmark = pytest.mark.integration

DIM = 8
CATEGORIES = [f"home/c{i}" for i in range(6)]
N_ITEMS = 240
QUERY = {
    "function_score": {
        "query": {"match": {"title": "widget"}},
        "field_value_factor": {"field": "price"},  # distinct scores: no ties in engine order
        "boost_mode": "replace",
    }
}


@dataclass(frozen=True)
class World:
    client: OpenSearch
    alias: str
    pipe: str
    category_of: dict[str, str]


def _events(path: Path, category_of: dict[str, str]) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    by_category: dict[str, list[str]] = {}
    for item, cat in category_of.items():
        by_category.setdefault(cat, []).append(item)
    rows: list[dict[str, Any]] = [
        {"user_id": "u-one", "item_id": by_category["home/c3"][5], "type": "click"}
    ]
    items = list(category_of)
    rows += [{"user_id": "u-many", "item_id": items[(7 * n) % len(items)],
              "type": ("view", "click", "purchase")[n % 3]} for n in range(500)]  # fmt: skip
    rows += [{"user_id": "u-mono", "item_id": item, "type": "purchase"}
             for item in by_category["home/c5"][:30]]  # fmt: skip
    with path.open("w", encoding="utf-8") as out:
        for n, row in enumerate(rows):
            ts = (start + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
            out.write(json.dumps({**row, "ts": ts}) + "\n")


@pytest.fixture(scope="module")
def world(engine: str, launch_sidecar: Callable[..., Any],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:  # fmt: skip
    prefix = f"t-cold-{uuid.uuid4().hex[:8]}"
    index, alias, profiles = f"{prefix}-items", f"{prefix}-alias", f"{prefix}-profiles"
    client = OpenSearch(engine, timeout=30)
    rng = np.random.default_rng(5)
    centers = rng.normal(size=(len(CATEGORIES), DIM))
    client.indices.create(index=index, body=item_index_body(DIM, {"fixture": prefix}))
    side = None
    name = f"{prefix}-pipe"
    try:
        lines: list[dict[str, Any]] = []
        category_of = {}
        for i in range(N_ITEMS):
            c = i % len(CATEGORIES)
            vec = centers[c] + 0.3 * rng.normal(size=DIM)
            vec /= np.linalg.norm(vec)
            category_of[f"w{i}"] = CATEGORIES[c]
            lines.append({"index": {"_index": index, "_id": f"w{i}"}})
            lines.append({"title": f"widget {CATEGORIES[c].split('/')[1]} {i}",
                          "category": CATEGORIES[c], "brand": f"b{i % 4}",
                          "price": 1.0 + i, "embedding": [float(x) for x in vec]})  # fmt: skip
        client.bulk(body=lines, refresh=True)
        client.indices.put_alias(index=index, name=alias)
        events = tmp_path_factory.mktemp("cold") / "events.jsonl"
        _events(events, category_of)
        built = subprocess.run(
            [sys.executable, "-m", "cli.main", "profiles", "build", "--events", str(events),
             "--alias", profiles, "--items-alias", alias],
            cwd=REPO_ROOT, env=dict(os.environ, DIVRANK_OPENSEARCH_URL=engine),
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr[-2000:] + built.stdout[-2000:]
        side = launch_sidecar(env={"DIVRANK_PROFILES_ALIAS": profiles})
        pipeline.install(client, pipeline.PipelineConfig(
            name=name, sidecar_url=side.url, read_timeout_ms=5000))  # fmt: skip
        yield World(client, alias, name, category_of)
    finally:
        if side is not None:
            side.stop()
        pipeline.delete(client, name)
        for target in (index, f"{profiles}*"):
            client.indices.delete(index=target, ignore_unavailable=True)


def _page(world: World, **knobs: Any) -> tuple[list[str], dict[str, Any]]:
    body = {"size": 10, "query": QUERY, "ext": {"divrank": knobs}}
    resp = world.client.transport.perform_request(
        "POST", f"/{world.alias}/_search", params={"search_pipeline": world.pipe}, body=body)
    info = resp["ext"]["divrank"]
    assert info["applied"] is True and info["degraded"] is False, info
    return [hit["_id"] for hit in resp["hits"]["hits"]], info


def _categories(world: World, ids: list[str]) -> list[str]:
    return [world.category_of[i] for i in ids]


def test_a_user_never_seen_gets_the_anonymous_page(world: World) -> None:
    anonymous, _ = _page(world, diversity=0.4)
    unknown, _ = _page(world, diversity=0.4, user_id=f"u-never-{uuid.uuid4().hex[:6]}")
    assert unknown == anonymous


def test_one_event_personalizes_toward_it(world: World) -> None:
    anonymous, _ = _page(world, diversity=0.0, strategy="personalized")
    one, _ = _page(world, diversity=0.0, strategy="personalized", user_id="u-one")
    assert one != anonymous
    c3 = "home/c3"
    assert _categories(world, one).count(c3) >= _categories(world, anonymous).count(c3)


def test_five_hundred_events_are_served(world: World) -> None:
    many, _ = _page(world, diversity=0.5, user_id="u-many")
    assert len(many) == 10 and len(set(many)) == 10


def test_a_one_category_history_does_not_collapse_the_page(world: World) -> None:
    engine, _ = _page(world, diversity=0.0, strategy="engine")
    personal, _ = _page(world, diversity=0.0, strategy="personalized", user_id="u-mono")
    fused, _ = _page(world, diversity=0.5, user_id="u-mono")
    # personalization alone leans on the user's only category ...
    c5 = "home/c5"
    assert _categories(world, personal).count(c5) > _categories(world, engine).count(c5)
    # ... and the fusion with diversity keeps the page as varied as the engine's, not one aisle
    assert len(set(_categories(world, fused))) >= len(set(_categories(world, engine)))
    assert _categories(world, fused).count(c5) < 10
