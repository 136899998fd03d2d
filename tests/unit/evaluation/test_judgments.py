"""Judgment lists as evaluation sets: formats, the rating → gain rule, what is left out."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from config.settings import REPO_ROOT
from evaluation.datasets.judgments import JudgmentsLoader, gain_scale, read_judgments
from indexer.catalog import CatalogError

ESCI = REPO_ROOT.parent / "shared" / "data" / "ubi-esci-sample" / "esci_us_judgments.json"


@pytest.mark.parametrize(
    ("ratings", "gains", "rule"),
    [
        ([100.0, 0.0, 10.0, 1.0], {0.0: 0, 1.0: 1, 10.0: 2, 100.0: 3}, "by their order"),
        ([0.0, 3.0, 1.0, 2.0], {0.0: 0, 1.0: 1, 2.0: 2, 3.0: 3}, "as they are"),
        ([0.0, 2.0, 3.0], {0.0: 0, 2.0: 2, 3.0: 3}, "as they are"),
        ([5.0, 1.0, 3.0], {1.0: 0, 3.0: 1, 5.0: 2}, "by their order"),  # stars: 1 = worst
        ([1.0, 1.5, 3.0], {1.0: 0, 1.5: 1, 3.0: 2}, "by their order"),
        ([1.0, 1.0], {1.0: 1}, "one rating level (1) → gain 1"),  # relevant items only
        ([0.0], {0.0: 0}, "one rating level (0) → gain 0"),
    ],
)
def test_ratings_become_gains_by_their_order(
    ratings: list[float], gains: dict[float, int], rule: str
) -> None:
    scale, note = gain_scale(ratings)
    assert scale == gains and rule in note


def test_many_levels_are_scaled_linearly_onto_0_to_10() -> None:
    ratings = [i / 20 for i in range(21)]  # 0, 0.05, ..., 1: an LLM judge's scores
    scale, note = gain_scale(ratings)
    assert scale[0.0] == 0 and scale[1.0] == 10 and scale[0.5] == 5
    assert "21 rating levels in [0, 1]" in note


def test_search_relevance_workbench_judgments_read_as_they_are() -> None:
    stats: Counter[str] = Counter()
    triples = read_judgments(ESCI, stats)
    raw = json.loads(ESCI.read_text())["judgmentRatings"]
    assert len(triples) == sum(len(entry["ratings"]) for entry in raw) > 6000
    assert len({q for q, _, _ in triples}) == len(raw) == 150
    assert not stats
    _, note = gain_scale([r for *_, r in triples])
    assert note == "ratings 0, 1, 10, 100 → gains 0..3 by their order"


def test_rows_with_home_depot_columns_and_bad_rows_counted(tmp_path: Path) -> None:
    path = tmp_path / "j.csv"
    path.write_text("id,product_uid,product_title,search_term,relevance\n"
                    "1,100001,angle bracket,angle bracket,3\n"
                    "2,100002,deck stain,deck stain,2.33\n"
                    "3,100003,oops,deck stain,high\n"
                    "4,100004,no query,,1\n")  # fmt: skip
    stats: Counter[str] = Counter()
    assert read_judgments(path, stats) == [
        ("angle bracket", "100001", 3.0), ("deck stain", "100002", 2.33)
    ]
    assert sum(stats.values()) == 2


def test_a_file_without_a_rating_column_names_what_it_has(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps({"query": "lamp", "doc_id": "a", "stars": 4}) + "\n")
    with pytest.raises(CatalogError, match=r"j\.jsonl:1: no rating column .*query, doc_id, stars"):
        read_judgments(path, Counter())


def test_not_a_judgment_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text('{"name": "not judgments"}')
    with pytest.raises(CatalogError, match="Search Relevance Workbench"):
        read_judgments(path, Counter())


def _shop(tmp_path: Path, judgments: list[dict[str, object]]) -> JudgmentsLoader:
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("".join(json.dumps({"id": i, "title": f"item {i}"}) + "\n"
                               for i in ("a", "b", "c")))  # fmt: skip
    path = tmp_path / "judgments.jsonl"
    path.write_text("".join(json.dumps(j) + "\n" for j in judgments))
    return JudgmentsLoader(catalog, path)


def test_judged_queries_over_the_catalog(tmp_path: Path) -> None:
    rows = [("lamp", "a", 3), ("lamp", "b", 0), ("lamp", "a", 1), ("desk", "c", 2),
            ("desk", "gone", 3)]  # fmt: skip
    loader = _shop(tmp_path, [{"query": q, "doc_id": d, "rating": r} for q, d, r in rows])
    data = loader.load(tmp_path, tmp_path)
    assert data.shallow_judgments and data.retrievals == ("bm25", "hybrid", "knn")
    assert [(r.query, r.judgments, r.group) for r in data.requests] == [
        ("lamp", {"a": 3, "b": 0}, "lamp"), ("desk", {"c": 2}, "desk")
    ]
    assert loader.stats["judgments on items not in the catalog"] == 1
    assert loader.stats["repeated judgments (the highest kept)"] == 1
    assert loader.name.startswith("judged-") and "integer grades from 0" in loader.describe()


def test_judgments_that_name_no_catalog_item_are_an_error(tmp_path: Path) -> None:
    loader = _shop(tmp_path, [{"query": "lamp", "doc_id": "zz", "rating": 1}])
    with pytest.raises(ValueError, match="no judgment names an item of"):
        loader.load(tmp_path, tmp_path)
