"""The Icecat and Home Depot presets read the shared data in place."""

from __future__ import annotations

import itertools

from indexer.presets import BrandTagger, homedepot_items, icecat_items


def test_icecat_fields() -> None:
    first = next(icecat_items())
    assert first.id == "3920564"
    assert first.brand == "Xerox"
    assert first.price == 49.95  # cents → units
    assert first.category == "Printing/Supplies/Toner"
    assert first.attrs["ean"] == ["0095205603217"]
    assert "type" in first.attrs and not any(k.startswith("attr_") for k in first.attrs)


def test_homedepot_unique_and_brand_tagged() -> None:
    items = list(itertools.islice(homedepot_items(), 2000))
    assert len({i.id for i in items}) == len(items)
    assert items[0].title == "Simpson Strong-Tie 12-Gauge Angle"
    tagged = sum(i.brand is not None for i in items) / len(items)
    assert tagged > 0.85, tagged


def test_brand_tagger_longest_prefix_on_word_boundary() -> None:
    tagger = BrandTagger(["behr", "behr premium", "ge", "american standard"])
    assert tagger.tag("BEHR Premium Textured DeckOver") == "behr premium"
    assert tagger.tag("Behr Marquee paint") == "behr"
    assert tagger.tag("Generac 5500-Watt generator") is None  # "ge" is not a word prefix
    assert tagger.tag("American  Standard Cadet toilet") == "american standard"
