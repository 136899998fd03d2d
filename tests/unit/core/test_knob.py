"""The knob table: one knob, every algorithm's parameter, no jumps."""

from __future__ import annotations

import numpy as np
import pytest

from reranker.core import knob, rerank
from reranker.core.types import Candidates, Knobs


@pytest.mark.parametrize(
    ("d", "expected"),
    [(0.0, None), (0.1, None), (0.2, None), (0.35, 0.985), (0.5, 0.97), (1.0, 0.97)],
)
def test_duplicate_threshold_ramps_in_after_the_low_knob(d: float, expected: float | None) -> None:
    got = knob.duplicate_threshold(d, 0.97)
    assert got == (None if expected is None else pytest.approx(expected))


def test_duplicate_threshold_off_when_asked() -> None:
    assert knob.duplicate_threshold(1.0, 1.0) is None


def test_duplicate_threshold_moves_smoothly() -> None:
    grid = np.linspace(knob.DEDUP_FROM + 1e-6, 1.0, 200)
    values = np.array([knob.duplicate_threshold(float(d), 0.97) for d in grid])
    assert values[0] == pytest.approx(1.0, abs=1e-4)  # starts at "only exact copies"
    assert (np.diff(values) <= 0).all()
    assert np.abs(np.diff(values)).max() < 1e-3


def _variants() -> Candidates:
    """Items 0 and 1 are colour variants (cosine 0.99); item 2 is different."""
    a = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    b = np.array([0.99, np.sqrt(1 - 0.99**2), 0.0], dtype=np.float32)
    c = np.array([0.0, 0.0, 1.0], dtype=np.float32)
    return Candidates(
        ids=["a", "b", "c"],
        scores=np.array([3.0, 2.9, 1.0], dtype=np.float32),
        embeddings=np.stack([a, b, c]),
    )


@pytest.mark.parametrize("strategy", ["mmr", "fusion"])
def test_variants_stay_at_a_low_knob_and_go_at_a_high_one(strategy: str) -> None:
    cands = _variants()
    low = rerank(cands, 2, Knobs(diversity=0.1, strategy=strategy))
    assert low.order.tolist() == [0, 1]
    high = rerank(cands, 2, Knobs(diversity=0.6, strategy=strategy))
    assert high.order.tolist() == [0, 2]
