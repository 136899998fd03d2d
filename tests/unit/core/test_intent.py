"""Explicit intent: brands and categories named in the query."""

from __future__ import annotations

from reranker.core import detect_intent


def test_brand_and_category_found() -> None:
    intent = detect_intent("DeWalt cordless drills", ["DeWalt", "Makita"], ["Drills", "Saws"])
    assert intent.brands == frozenset({"DeWalt"})
    assert intent.categories == frozenset({"Drills"})


def test_multiword_connectives_and_plurals() -> None:
    intent = detect_intent(
        "black and decker hedge trimmer", ["Black & Decker", "Black"], ["Hedge Trimmers"]
    )
    assert intent.brands == frozenset({"Black & Decker", "Black"})
    assert intent.categories == frozenset({"Hedge Trimmers"})


def test_no_partial_word_matches() -> None:
    intent = detect_intent("gel stain", ["GE"], ["Stain Removers"])
    assert intent.brands == frozenset()
    assert intent.categories == frozenset()
    assert detect_intent("", ["GE"], []).brands == frozenset()
