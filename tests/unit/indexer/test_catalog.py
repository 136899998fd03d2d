"""Catalog readers and field mapping (flags and YAML/TOML)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from indexer.catalog import CatalogError, FieldMap, load_field_map, read_catalog

ROWS = [
    {
        "sku": "a1",
        "name": "Red kettle",
        "text": "1.7 l",
        "cat": "Home > Kitchen > Kettle",
        "maker": "Acme",
        "eur": "19.90",
        "color": "red",
        "size": "",
    },
    {
        "sku": "a2",
        "name": "Blue mug",
        "text": "",
        "cat": "Home/Kitchen/Mug",
        "maker": "Acme",
        "eur": "4",
        "color": "blue",
        "size": "L",
    },
]
FMAP = FieldMap(
    id="sku",
    title="name",
    description="text",
    category="cat",
    brand="maker",
    price="eur",
    attrs=("color", "size"),
)


def _write(tmp_path: Path, fmt: str) -> Path:
    path = tmp_path / f"catalog.{fmt}"
    if fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    elif fmt == "csv":
        header = list(ROWS[0])
        lines = [",".join(header)] + [",".join(f'"{r[h]}"' for h in header) for r in ROWS]
        path.write_text("\n".join(lines) + "\n")
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_formats_map_the_same(tmp_path: Path, fmt: str) -> None:
    items = list(read_catalog(_write(tmp_path, fmt), FMAP))
    assert [i.id for i in items] == ["a1", "a2"]
    assert items[0].title == "Red kettle"
    assert items[0].category == "Home > Kitchen > Kettle"
    assert items[0].attrs == {"color": "red"}  # empty values dropped
    assert items[1].attrs == {"color": "blue", "size": "L"}
    assert str(items[1].price) == "4"


def test_star_attrs_keep_unmapped_columns(tmp_path: Path) -> None:
    fmap = FMAP.with_overrides(attrs=("*",))
    item = next(read_catalog(_write(tmp_path, "jsonl"), fmap))
    assert item.attrs == {"color": "red"}


def test_yaml_and_toml_field_maps(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text("id: sku\ntitle: name\nattrs: [color]\n")
    (tmp_path / "f.toml").write_text('[fields]\nid = "sku"\ntitle = "name"\nattrs = ["color"]\n')
    for name in ("f.yaml", "f.toml"):
        fmap = load_field_map(tmp_path / name)
        assert (fmap.id, fmap.title, fmap.attrs) == ("sku", "name", ("color",))
        assert fmap.brand == "brand"  # defaults stay


def test_field_map_errors_name_the_problem(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: sku\ntitel: name\n")
    with pytest.raises(CatalogError, match=r"unknown key.*titel"):
        load_field_map(tmp_path / "bad.yaml")
    (tmp_path / "x.ini").write_text("id = sku\n")
    with pytest.raises(CatalogError, match=r"use \.yaml"):
        load_field_map(tmp_path / "x.ini")


def test_a_line_that_is_not_a_row_is_marked_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": 1, "title": "x"}\n{"id": 2,\n[1, 2]\n{"id": 3, "title": "z"}\n')
    rows = list(read_catalog(path, FieldMap()))
    assert [(r.line, r.id) for r in rows] == [(1, 1), (2, None), (3, None), (4, 3)]
    assert rows[0].unreadable is None and rows[3].unreadable is None
    assert rows[1].unreadable is not None and "not valid JSON" in rows[1].unreadable
    assert rows[2].unreadable is not None and "a JSON object" in rows[2].unreadable


def test_csv_line_with_more_cells_than_the_header_is_not_a_row(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,title,price\na,lamp,3\nb,desk, large,12\nc,chair,4\n")
    rows = list(read_catalog(path, FieldMap()))
    assert [(r.line, r.id, r.unreadable) for r in rows] == [
        (2, "a", None),
        (3, None, "4 cells where the header has 3 (an unquoted delimiter inside a value?)"),
        (4, "c", None),
    ]


def test_csv_cells_longer_than_pythons_default_limit_are_read(tmp_path: Path) -> None:
    long = "x" * 300_000  # the csv module refuses cells over 128 KiB unless told otherwise
    path = tmp_path / "c.csv"
    path.write_text(f"id,title,description\na,lamp,{long}\nb,desk,short\n")
    rows = list(read_catalog(path, FieldMap()))
    assert [r.id for r in rows] == ["a", "b"] and rows[0].description == long


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="--format"):
        list(read_catalog(tmp_path / "c.xml", FieldMap()))


@pytest.mark.parametrize("name", ["c.jsonl.gz", "c.csv.gz", "c.tsv.gz"])
def test_gzip_catalogs_read_like_plain_ones(tmp_path: Path, name: str) -> None:
    if "jsonl" in name:
        text = "".join(json.dumps(r) + "\n" for r in ROWS)
    else:
        sep = "\t" if "tsv" in name else ","
        header = list(ROWS[0])
        text = "\n".join([sep.join(header)] + [sep.join(r[h] for h in header) for r in ROWS])
    (tmp_path / name).write_bytes(gzip.compress(text.encode()))
    rows = list(read_catalog(tmp_path / name, FMAP))
    assert [(r.id, r.title, r.price) for r in rows] == [("a1", "Red kettle", "19.90"),
                                                        ("a2", "Blue mug", "4")]  # fmt: skip


def test_a_truncated_gzip_catalog_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl.gz"
    whole = gzip.compress("".join(json.dumps(r) + "\n" for r in ROWS * 50).encode())
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CatalogError, match=r"c\.jsonl\.gz: not a readable gzip file"):
        list(read_catalog(path, FMAP))
