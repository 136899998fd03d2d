"""Diversity metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.diversity_metrics import (
    calibration_kl,
    category_mix,
    coverage,
    gini,
    intra_list_distance,
    mix_entropy,
    novelty,
    over_personalization,
)


def test_ild_of_orthogonal_and_identical_items() -> None:
    # pairs: (e1,e2) cos 0, (e1,e1') cos 1, (e2,e1') cos 0 -> distances 1, 0, 1 -> 2/3
    page = np.array([[1.0, 0.0], [0.0, 3.0], [2.0, 0.0]])
    assert intra_list_distance(page) == pytest.approx(2.0 / 3.0)


def test_ild_of_opposite_vectors_is_two_and_single_item_zero() -> None:
    assert intra_list_distance(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(2.0)
    assert intra_list_distance(np.array([[1.0, 0.0]])) == 0.0


def test_coverage_ignores_unknown() -> None:
    assert coverage(np.array([3, 3, -1, 7, 0, -1])) == 3
    assert coverage(np.array([-1, -1])) == 0


def test_category_mix_splits_multi_label_items_and_skips_unknown() -> None:
    # item 1: genres A and B (1/2 each); item 2: A; item 3: nothing known
    rows = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(category_mix(rows), [0.75, 0.25, 0.0])


def test_entropy_in_bits() -> None:
    assert mix_entropy(np.array([0.5, 0.5])) == pytest.approx(1.0)
    assert mix_entropy(np.array([0.25, 0.25, 0.25, 0.25])) == pytest.approx(2.0)
    assert mix_entropy(np.array([1.0, 0.0])) == 0.0


def test_gini_even_and_concentrated() -> None:
    assert gini(np.array([0.25, 0.25, 0.25, 0.25])) == pytest.approx(0.0)
    # one of four categories holds everything: (2*4*1)/(4*1) - 5/4 = 0.75
    assert gini(np.array([0.0, 1.0, 0.0, 0.0])) == pytest.approx(0.75)
    # [0.1, 0.2, 0.3, 0.4]: 2*(0.1+0.4+0.9+1.6)/4 - 5/4 = 0.25
    assert gini(np.array([0.4, 0.1, 0.3, 0.2])) == pytest.approx(0.25)


def test_calibration_kl_by_hand() -> None:
    p = np.array([0.5, 0.5])
    q = np.array([1.0, 0.0])
    alpha = 0.1
    q_tilde = np.array([0.9 * 1.0 + 0.1 * 0.5, 0.1 * 0.5])
    expected = 0.5 * math.log(0.5 / q_tilde[0]) + 0.5 * math.log(0.5 / q_tilde[1])
    assert calibration_kl(p, q, alpha=alpha) == pytest.approx(expected)
    assert calibration_kl(p, p, alpha=alpha) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="alpha"):
        calibration_kl(p, q, alpha=0.0)


def test_novelty_is_mean_self_information() -> None:
    assert novelty(np.array([0.5, 0.25])) == pytest.approx((1.0 + 2.0) / 2)
    assert novelty(np.array([0.0]), floor=2.0**-10) == pytest.approx(10.0)


def test_over_personalization_is_mean_cosine_to_centroid() -> None:
    page = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    centroid = np.array([2.0, 0.0])
    assert over_personalization(page, centroid) == pytest.approx((1.0 + 0.0 + 2**-0.5) / 3)
    with pytest.raises(ValueError, match="zero vector"):
        over_personalization(page, np.zeros(2))
