"""Per-request relevance normalisation."""

from __future__ import annotations

import numpy as np

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
