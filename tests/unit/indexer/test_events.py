"""Event readers: our JSONL schema and the OpenSearch UBI fixture."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from indexer.events import EventReadStats, parse_ts, read_events
from indexer.rejects import RejectLog

UBI = (
    Path(__file__).resolve().parents[4]
    / "shared"
    / "data"
    / "ubi-esci-sample"
    / "ubi_queries_events.ndjson"
)


def test_parse_ts_forms() -> None:
    assert parse_ts("2024-12-10T00:01:29Z") == parse_ts(1733788889) == parse_ts(1733788889000)
    assert parse_ts("1733788889") == 1733788889
    with pytest.raises(ValueError, match="neither ISO-8601 nor epoch"):
        parse_ts("yesterday")


def test_our_schema_and_rejects(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    rows = [
        {"user_id": "u1", "item_id": "i1", "type": "click", "ts": "2025-01-01T00:00:00Z"},
        {"user_id": "u1", "item_id": "i2", "type": "like", "ts": 1},
        {"user_id": "", "item_id": "i2", "type": "view", "ts": 1},
        {"user_id": "u2", "item_id": "i3", "type": "purchase", "ts": "soon"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    log = RejectLog(tmp_path / "rej.jsonl")
    events = list(read_events(path, log))
    log.close()
    assert [(e.user_id, e.item_id, e.type) for e in events] == [("u1", "i1", "click")]
    details = [json.loads(x)["detail"] for x in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert any("'like' is not one of" in d for d in details)
    assert any("missing user_id" in d for d in details)
    assert any("soon" in d for d in details)
    assert any("not valid JSON" in d for d in details)


def test_ubi_fixture() -> None:
    stats = EventReadStats()
    log = RejectLog(None)
    events = list(read_events(UBI, log, stats=stats))
    assert log.rejected == 0
    assert stats.skipped["ubi_queries"] == 473
    assert stats.skipped["action:impression"] == 1999  # impressions are not interest
    types = {e.type for e in events}
    assert types == {"view", "click", "cart", "purchase"}
    assert len(events) == 549
    assert len({e.user_id for e in events}) == 71
    clicked = next(e for e in events if e.type == "cart")
    assert clicked.item_id and clicked.ts > 1.6e9
    # every interest event has some text for its item (description or query)
    assert all(stats.text_for(e) for e in events)
    # an EAN-keyed purchase keeps the catalog's internal id and the supplier as brand
    purchase = next(e for e in events if e.type == "purchase" and e.alt_item_id == "2304022")
    assert purchase.item_id == "0883585774104" and purchase.brand == "HP"


def test_a_gzip_export_reads_like_the_plain_one(tmp_path: Path) -> None:
    plain = tmp_path / "ubi.ndjson"
    packed = tmp_path / "ubi.ndjson.gz"
    packed.write_bytes(gzip.compress(UBI.read_bytes()))
    plain.write_bytes(UBI.read_bytes())
    read = [list(read_events(p, RejectLog(None), stats=EventReadStats())) for p in (plain, packed)]
    assert read[0] == read[1] and len(read[1]) == 549  # the UBI format is detected through gzip


def test_a_broken_gzip_or_a_broken_first_line_is_one_clear_error(tmp_path: Path) -> None:
    cut = tmp_path / "ev.jsonl.gz"
    cut.write_bytes(gzip.compress(UBI.read_bytes())[:5000])  # a truncated download
    with pytest.raises(ValueError, match=r"ev\.jsonl\.gz: not a readable gzip file after line"):
        list(read_events(cut, RejectLog(None)))
    first = tmp_path / "ev.jsonl"
    first.write_text('{broken\n{"user_id": "u", "item_id": "i", "type": "click", "ts": 1}\n')
    log = RejectLog(None)
    assert [e.item_id for e in read_events(first, log)] == ["i"] and log.rejected == 1


def test_a_dump_of_search_hits_reads_like_the_bulk_export(tmp_path: Path) -> None:
    """One ``{"_index", "_id", "_source"}`` line per document, as dump tools write them."""
    lines, index = [], None
    for line in UBI.read_text().splitlines():
        doc = json.loads(line)
        if len(doc) == 1 and next(iter(doc)) in ("index", "create"):
            index = next(iter(doc.values()))["_index"]
            continue
        lines.append(json.dumps({"_index": index, "_id": str(len(lines)), "_source": doc}))
    dump = tmp_path / "ubi-dump.ndjson"
    dump.write_text("\n".join(lines) + "\n")
    stats = [EventReadStats(), EventReadStats()]
    bulk = list(read_events(UBI, RejectLog(None), stats=stats[0]))
    dumped = list(read_events(dump, RejectLog(None), stats=stats[1]))
    assert dumped == bulk and len(dumped) == 549
    assert stats[1].query_texts == stats[0].query_texts and stats[1].skipped == stats[0].skipped
