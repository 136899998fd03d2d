"""Dataset loaders: the parts that decide what counts as ground truth."""

from __future__ import annotations

import pytest

from evaluation.datasets import LOADERS, DatasetLoader, get_loader
from evaluation.datasets.homedepot import gain_from_relevance
from evaluation.datasets.movielens import split_by_time
from evaluation.datasets.types import Catalog


def test_registry_loaders_satisfy_the_protocol() -> None:
    for name in LOADERS:
        loader = get_loader(name)
        assert isinstance(loader, DatasetLoader)
        assert loader.name == name
    with pytest.raises(ValueError, match="unknown dataset 'nope'; known: homedepot, movielens"):
        get_loader("nope")


@pytest.mark.parametrize(
    ("relevance", "gain"),
    [(1.0, 0), (1.33, 1), (1.67, 2), (2.0, 3), (2.33, 4), (2.67, 5), (3.0, 6)],
)
def test_homedepot_gains_keep_the_thirds(relevance: float, gain: int) -> None:
    assert gain_from_relevance(relevance) == gain


def test_homedepot_gain_rejects_out_of_scale() -> None:
    with pytest.raises(ValueError, match=r"\[1, 3\], got 3.5"):
        gain_from_relevance(3.5)


def test_time_split_is_by_timestamp_and_never_empty() -> None:
    ratings = [("c", 5.0, 30.0), ("a", 4.0, 10.0), ("d", 2.0, 40.0), ("b", 3.0, 20.0)]
    train, test = split_by_time(ratings, 0.5)
    assert [r[0] for r in train] == ["a", "b"]
    assert [r[0] for r in test] == ["c", "d"]
    train, test = split_by_time(ratings[:2], 0.99)  # always one item held out
    assert len(train) == 1
    assert len(test) == 1
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        split_by_time(ratings, 1.0)


def test_catalog_columns_must_line_up() -> None:
    import numpy as np

    with pytest.raises(ValueError, match="brands"):
        Catalog(["a", "b"], ["A", "B"], ["", ""], [(), ()], [None], np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="unique"):
        Catalog(["a", "a"], ["A", "B"], ["", ""], [(), ()], [None, None], np.zeros(2))
