"""`divrank profiles build`: from our JSONL events against an items alias, and from the UBI
fixture; the document shape the sidecar reads; versioning like items."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from cli.main import app
from config.vector_fetch import hit_vector, search_by_ids
from reranker.app.services.profiles import parse_profile

pytestmark = pytest.mark.integration
runner = CliRunner()
UBI = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "ubi-esci-sample"
    / "ubi_queries_events.ndjson"
)
KEYS = {
    "user_id",
    "interests",
    "interest_weights",
    "centroid",
    "category_hist",
    "brand_hist",
    "item_weights",
    "repeats",
    "repeat_chances",
    "category_repeats",
    "recent_item_ids",
    "updated_at",
}


@pytest.fixture()
def names(engine: str) -> Iterator[tuple[str, str]]:
    prefix = f"t-idx-{uuid.uuid4().hex[:8]}"
    yield f"{prefix}-items", f"{prefix}-profiles"
    OpenSearch(engine).indices.delete(index=f"{prefix}-*", ignore_unavailable=True)


def _report(output: str) -> dict:
    return json.loads(output[output.index("{") :])


def test_profiles_from_our_events_use_item_vectors(
    engine: str, names: tuple[str, str], tmp_path: Path
) -> None:
    items, profiles = names
    client = OpenSearch(engine)
    result = runner.invoke(
        app,
        [
            "index",
            "--preset",
            "icecat",
            "--limit",
            "400",
            "--alias",
            items,
            "--url",
            engine,
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    by_cat: dict[str, list[str]] = {}
    for hit in client.search(index=items, body={"size": 400, "_source": ["category"]})["hits"][
        "hits"
    ]:
        by_cat.setdefault(hit["_source"]["category"], []).append(hit["_id"])
    toner = by_cat["Printing/Supplies/Toner"][:4]
    cables = by_cat["Cables/Network/Patch cable"][:4]
    events = [
        {"user_id": "u1", "item_id": i, "type": "purchase", "ts": 1_700_000_000 + n}
        for n, i in enumerate(toner)
    ]
    events += [{"user_id": "u1", "item_id": i, "type": "view", "ts": 1_690_000_000} for i in cables]
    events += [{"user_id": "u2", "item_id": "not-in-catalog", "type": "click", "ts": 1}]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    result = runner.invoke(
        app,
        [
            "profiles",
            "build",
            "--events",
            str(path),
            "--alias",
            profiles,
            "--items-alias",
            items,
            "--json",
            "--url",
            engine,
        ],
    )
    assert result.exit_code == 0, result.output
    report = _report(result.stdout)
    assert (report["profiles"], report["users_without_vectors"]) == (1, 1)
    assert report["items_from_index"] == 8 and report["items_unknown"] == 1
    doc = client.get(index=profiles, id="u1")["_source"]
    assert set(doc) == KEYS and doc["user_id"] == "u1"
    # the item memory the indexer stored is what the sidecar parses
    stored = parse_profile(doc)
    assert stored.item_weights and stored.repeats == (doc["repeats"], doc["repeat_chances"])
    assert stored.category_repeats == {c: tuple(v) for c, v in doc["category_repeats"].items()}
    assert len(doc["interests"]) == 3 and all(len(v) == 384 for v in doc["interests"])
    assert doc["interest_weights"] == sorted(doc["interest_weights"], reverse=True)
    # recent purchases dominate old views
    assert next(iter(doc["category_hist"])) == "Printing/Supplies/Toner"
    assert doc["category_hist"]["Printing/Supplies/Toner"] > 0.9
    assert doc["recent_item_ids"][0] == toner[-1]
    item_vec = hit_vector(search_by_ids(client, items, [toner[0]])[0], "embedding")
    assert item_vec is not None
    assert float(np.dot(doc["interests"][0], item_vec)) > 0.5

    # --until: the profiles as of a moment between the cable views and the toner purchases
    # (what a replay cut there sees): the purchases are left out, recency counts from it
    result = runner.invoke(
        app,
        ["profiles", "build", "--events", str(path), "--alias", f"{profiles}-until",
         "--items-alias", items, "--until", "1695000000", "--json", "--url", engine],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = _report(result.stdout)
    assert report["left_out_after_until"] == 4 and report["profiles"] == 1
    doc = client.get(index=f"{profiles}-until", id="u1")["_source"]
    assert set(doc["item_weights"]) == set(cables)
    assert set(doc["category_hist"]) == {"Cables/Network/Patch cable"}
    # a view 5,000,000 s (57.9 days) before the moment, half-life 180 days: 1 · 0.5 ** (57.9/180)
    assert doc["item_weights"][cables[0]] == pytest.approx(0.5 ** (5e6 / 86400 / 180), rel=1e-3)
    result = runner.invoke(
        app,
        ["profiles", "build", "--events", str(path), "--alias", f"{profiles}-until",
         "--items-alias", items, "--until", "1970-01-01T00:00:00Z", "--url", engine],
    )  # fmt: skip
    assert result.exit_code == 1 and "9 at or after --until" in result.output, result.output


def test_profiles_from_ubi_fixture(engine: str, names: tuple[str, str]) -> None:
    _, profiles = names
    client = OpenSearch(engine)
    result = runner.invoke(
        app,
        ["profiles", "build", "--events", str(UBI), "--alias", profiles, "--json", "--url", engine],
    )
    assert result.exit_code == 0, result.output
    first = _report(result.stdout)
    assert first["users"] == 71 and first["profiles"] == 71 and first["rejected"] == 0
    assert first["skipped"]["action:impression"] == 1999
    assert client.count(index=profiles)["count"] == 71
    hit = client.search(index=profiles, body={"size": 1})["hits"]["hits"][0]
    assert set(hit["_source"]) == KEYS and hit["_id"] == hit["_source"]["user_id"]
    assert abs(sum(hit["_source"]["interest_weights"]) - 1) < 1e-4
    # a rebuild publishes a new version and keeps the previous one
    result = runner.invoke(
        app,
        ["profiles", "build", "--events", str(UBI), "--alias", profiles, "--json", "--url", engine],
    )
    assert result.exit_code == 0, result.output
    second = _report(result.stdout)
    assert second["previous"] == first["index"]
    assert list(client.indices.get_alias(name=profiles)) == [second["index"]]
