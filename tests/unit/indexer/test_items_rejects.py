"""Row validation and the rejects file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from indexer.catalog import RawItem
from indexer.items import normalize_category, validate_items
from indexer.rejects import RejectLog


def test_each_bad_row_is_rejected_with_its_reason(tmp_path: Path) -> None:
    rows = [
        RawItem(1, "a", "Good item", price="12.5", category="A > B > C"),
        RawItem(2, None, "no id"),
        RawItem(3, "b", "", description=None),
        RawItem(4, "a", "duplicate of a"),
        RawItem(5, "c", "bad price", price="twelve"),
        RawItem(6, "d", "short vector", embedding=[0.1, 0.2]),
        RawItem(7, "e", "", description="description only", embedding=[0.0, 1.0, 0.0]),
        RawItem(8, "f", "nan price", price=float("nan")),
    ]
    path = tmp_path / "rejects.jsonl"
    log = RejectLog(path)
    items = list(validate_items(rows, log, dim=3))
    summary = log.summary(len(rows))
    assert [i.id for i in items] == ["a", "e"]
    assert items[0].price == 12.5 and items[0].category == "A/B/C"
    assert items[1].title == "description only" and items[1].description == ""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in records] == [
        (2, "missing_id"),
        (3, "empty_text"),
        (4, "duplicate_id"),
        (5, "non_numeric_price"),
        (6, "wrong_vector_size"),
        (8, "non_numeric_price"),
    ]
    assert "expected 3 numbers, got 2" in records[4]["detail"]
    assert summary.rejected == 6 and abs(summary.ratio - 0.75) < 1e-9
    assert "duplicate_id=1" in summary.describe()


def test_a_line_that_is_not_a_row_is_a_reject_with_its_line() -> None:
    log = RejectLog(None)
    rows = [RawItem(1, "a", "ok"), RawItem(2, None, None, unreadable="not valid JSON"),
            RawItem(3, "b", "ok")]  # fmt: skip
    assert [i.id for i in validate_items(rows, log)] == ["a", "b"]
    assert log.counts == {"malformed_row": 1}
    assert log.first == "line 2 (malformed_row): not valid JSON"


@pytest.mark.parametrize(
    ("price", "expected"),
    [("1,299.50", 1299.5), ("12,000", 12000.0), ("1299", 1299.0), (" 4.5 ", 4.5)],
)
def test_a_comma_in_a_price_is_read_only_as_a_thousands_group(
    price: str, expected: float
) -> None:
    log = RejectLog(None)
    assert [i.price for i in validate_items([RawItem(1, "a", "t", price=price)], log)] == [
        expected
    ]


@pytest.mark.parametrize("price", ["1,20", "1.299,00", "12,5", "1,2345", "$12.99"])
def test_a_decimal_comma_or_a_currency_sign_is_rejected_not_guessed(price: str) -> None:
    log = RejectLog(None)
    assert list(validate_items([RawItem(1, "a", "t", price=price)], log)) == []
    assert log.counts == {"non_numeric_price": 1}
    assert log.first is not None and price.strip() in log.first


def test_duplicate_of_a_rejected_row_is_accepted() -> None:
    log = RejectLog(None)
    rows = [RawItem(1, "x", "t", price="bad"), RawItem(2, "x", "t", price="3")]
    assert [i.price for i in validate_items(rows, log)] == [3.0]


def test_no_rejects_means_no_file_and_stale_file_removed(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("old\n")
    log = RejectLog(path)
    list(validate_items([RawItem(1, "a", "ok")], log))
    assert log.summary(1).rejected == 0
    assert not path.exists()


def test_item_source_has_category_levels() -> None:
    item = next(
        validate_items(
            [RawItem(1, "a", "t", category=["X", "Y", "Z", "W"], brand="B", attrs={"k": 1})],
            RejectLog(None),
        )
    )
    src = item.source(np.zeros(3, dtype=np.float32))
    assert src["category"] == "X/Y/Z/W"
    assert (src["category_l1"], src["category_l2"], src["category_l3"]) == ("X", "Y", "Z")
    assert "category_l4" not in src and src["brand"] == "B" and src["attrs"] == {"k": 1}
    assert src["item_id"] == "a"  # the id again, for the plugin's lean window (doc values)


def test_normalize_category() -> None:
    assert normalize_category(" A | B ") == "A/B"
    assert normalize_category("") is None


def test_reject_log_never_removes_a_device_or_symlink_target(tmp_path: Path) -> None:
    from indexer.rejects import RejectLog

    target = tmp_path / "keep.jsonl"
    target.write_text("precious\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    RejectLog(link)
    assert target.read_text() == "precious\n"
    devnull = Path(os.devnull)
    RejectLog(devnull)
    assert devnull.exists() and not devnull.is_file()


def test_item_prior_is_kept_indexed_or_rejected_with_its_reason() -> None:
    log = RejectLog(None)
    rows = [
        RawItem(1, "a", "milk", popularity="42"),
        RawItem(2, "b", "tea", popularity=-3),
        RawItem(3, "c", "bread", popularity="lots"),
        RawItem(4, "d", "jam"),
    ]
    items = list(validate_items(rows, log))
    assert [(i.id, i.popularity) for i in items] == [("a", 42.0), ("d", None)]
    assert items[0].source(None)["popularity"] == 42.0 and "popularity" not in items[1].source(None)
    assert log.counts["bad_popularity"] == 2
    assert log.first is not None and "popularity -3" in log.first
