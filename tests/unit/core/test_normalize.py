"""Per-request relevance normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from reranker.core import normalize_scores


def test_scale_and_shift_invariant() -> None:
    bm25 = np.array([31.0, 22.5, 22.5, 7.0], dtype=np.float32)
    cosine = (bm25 / 100.0 + 0.5).astype(np.float32)
    np.testing.assert_allclose(normalize_scores(bm25), normalize_scores(cosine), atol=1e-6)
    rel = normalize_scores(bm25)
    assert rel[0] == 1.0 and rel[-1] == 0.0 and rel[1] == rel[2]


def test_missing_scores_sit_at_the_bottom() -> None:
    rel = normalize_scores(np.array([np.nan, 3.0, 2.0, np.inf, 1.0], dtype=np.float32))
    assert rel.tolist() == [0.0, 1.0, 0.5, 0.0, 0.0]


def test_all_equal_or_single_score_is_one() -> None:
    assert normalize_scores(np.array([2.0, 2.0], np.float32)).tolist() == [1.0, 1.0]
    assert normalize_scores(np.array([5.0], np.float32)).tolist() == [1.0]


def test_no_scores_or_scores_against_engine_order_fall_back_to_rank() -> None:
    none = normalize_scores(np.full(3, np.nan, dtype=np.float32))
    assert none.tolist() == [1.0, 0.5, 0.0]
    sorted_by_field = normalize_scores(np.array([1.0, 3.0, 2.0], np.float32))
    assert sorted_by_field.tolist() == [1.0, 0.5, 0.0]


def test_learned_gains_curve_the_scores_but_keep_their_order() -> None:
    from reranker.core.normalize import learned_gains, normalize_learned

    raw = np.array([2.5, -1.0, 0.75, 1.9, -0.2], dtype=np.float32)
    line = normalize_learned(raw)
    np.testing.assert_array_equal(learned_gains(raw, 0.0), line)  # 0: the min-max line
    for t in (0.1, 0.5, 3.0):
        gains = learned_gains(raw, t)
        assert gains.dtype == np.float32
        assert gains.max() == pytest.approx(1.0) and gains.min() == pytest.approx(0.0)
        assert np.argsort(-gains, kind="stable").tolist() == np.argsort(-raw).tolist()
        middle = (line > 0) & (line < 1)
        assert (gains[middle] < line[middle]).all()  # the tail gives way first
    sharp, soft = learned_gains(raw, 0.1), learned_gains(raw, 0.5)
    assert sharp[2] < soft[2]  # a smaller temperature is a sharper curve


@pytest.mark.parametrize("bad", [-0.1, 10.5, float("nan")])
def test_a_gain_temperature_out_of_range_is_refused(bad: float) -> None:
    from reranker.core.normalize import learned_gains

    with pytest.raises(ValueError, match="gain temperature must be in"):
        learned_gains(np.array([1.0, 0.0], dtype=np.float32), bad)
