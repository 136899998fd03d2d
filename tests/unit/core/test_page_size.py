"""Deep pages: with ``page_size`` the first picks of a longer run are the shorter run's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reranker.core import Knobs, rerank
from reranker.core.request import STRATEGIES

from .conftest import clustered, user_for

DIVERSITIES = (0.0, 0.15, 0.5, 0.7, 1.0)


@pytest.mark.parametrize(
    ("strategy", "diversity"), list(itertools.product(STRATEGIES, DIVERSITIES))
)
def test_pages_extend_the_first_page(strategy: str, diversity: float) -> None:
    """Page 1 (k = 10) and pages 1-3 (k = 30, page_size = 10) agree on the first ten for every
    strategy and knob, with and without a user, so consecutive pages never overlap."""
    for seed in range(6):
        c = clustered(100, seed=seed)
        user = user_for(c, seed) if seed % 2 else None
        first = rerank(c, 10, Knobs(diversity=diversity, strategy=strategy), user)
        deep = rerank(c, 30, Knobs(diversity=diversity, strategy=strategy, page_size=10), user)
        assert list(deep.order[:10]) == list(first.order), (strategy, diversity, seed)
        assert len(set(deep.order.tolist())) == 30


def test_caps_count_against_the_page_not_the_run() -> None:
    """At high diversity the automatic caps are the page's: a run of 30 without page_size caps
    per 30 and lets one brand fill more of the first page."""
    worst_paged, worst_unpaged = 0, 0
    for seed in range(8):
        c = clustered(100, seed=seed)
        assert c.brands is not None
        paged = rerank(c, 30, Knobs(diversity=1.0, strategy="mmr", page_size=10), None)
        unpaged = rerank(c, 30, Knobs(diversity=1.0, strategy="mmr"), None)
        for order, box in ((paged.order, "paged"), (unpaged.order, "unpaged")):
            brands = c.brands[order[:10]]
            top = int(np.bincount(brands[brands >= 0]).max())
            if box == "paged":
                worst_paged = max(worst_paged, top)
            else:
                worst_unpaged = max(worst_unpaged, top)
    assert worst_paged <= 3  # the page cap at d = 1: max(2, ceil(10 * 0.5 / 2)) = 3
    assert worst_unpaged >= worst_paged


def test_page_size_is_validated() -> None:
    with pytest.raises(ValueError, match="page_size"):
        rerank(clustered(20), 5, Knobs(page_size=0))
