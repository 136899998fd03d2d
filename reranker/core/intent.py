"""Explicit intent: which brands and categories a query names, so caps and diversity step back.

A shopper typing "dewalt drill" wants DeWalt drills; capping DeWalt at two per page costs
about 40% NDCG on such queries (DESIGN.md). The vocabulary is the request's own candidate
labels, so there is no global dictionary to maintain. Pure string work: case-folded word
tokens, "&"/"and" ignored, a trailing plural "s" ignored, and a name matches when all its
tokens appear contiguously in the query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["QueryIntent", "detect_intent", "named_in", "tokens"]

_WORD = re.compile(r"\w+")
_IGNORED = frozenset({"and", "the", "of", "by", "for"})


@dataclass(frozen=True)
class QueryIntent:
    """Labels named by the query, spelled as in the candidate vocabularies."""

    brands: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()


def _stem(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[str, ...]:
    """Normalised word tokens: case-folded, plural 's' dropped, connectives removed. Cached:
    a catalog's brand and category names come back in every request."""
    words = _WORD.findall(text.casefold().replace("_", " "))
    return tuple(_stem(tok) for tok in words if tok not in _IGNORED)


def named_in(query: tuple[str, ...], names: Iterable[str]) -> frozenset[str]:
    """The ``names`` whose tokens appear contiguously in the ``query`` tokens."""
    found = set()
    present = frozenset(query)
    for name in names:
        needle = tokens(name)
        if not needle or (len(needle) == 1 and len(needle[0]) < 2) or needle[0] not in present:
            continue
        width = len(needle)
        if any(query[i : i + width] == needle for i in range(len(query) - width + 1)):
            found.add(name)
    return frozenset(found)


def detect_intent(
    query: str, brand_names: Iterable[str], category_names: Iterable[str]
) -> QueryIntent:
    """Brands and categories (from the candidates' vocabularies) that ``query`` names."""
    words = tokens(query)
    if not words:
        return QueryIntent()
    return QueryIntent(named_in(words, brand_names), named_in(words, category_names))
