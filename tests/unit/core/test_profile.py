"""A shopper's profile from their history (the one builder the sidecar and evaluation share)."""

from __future__ import annotations

import numpy as np
import pytest

from reranker.core.profile import MAX_INTERESTS, history_profile


def test_recent_vectors_are_the_interests_and_the_centroid_is_their_unit_mean() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(MAX_INTERESTS + 7, 8)).astype(np.float32)
    vectors[3] = 0.0  # an item without a vector says nothing
    profile = history_profile(vectors, {}, {})
    assert profile is not None
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-30)
    unit = unit[np.linalg.norm(vectors, axis=1) > 0]
    assert profile.interests.shape == (MAX_INTERESTS, 8)
    np.testing.assert_allclose(profile.interests, unit[-MAX_INTERESTS:], atol=1e-6)
    np.testing.assert_allclose(profile.interest_weights.sum(), 1.0, atol=1e-6)
    assert profile.centroid is not None
    mean = unit.mean(axis=0)
    np.testing.assert_allclose(profile.centroid, mean / np.linalg.norm(mean), atol=1e-6)


def test_label_weights_become_shares() -> None:
    vectors = np.eye(3, dtype=np.float32)
    profile = history_profile(vectors, {"tools": 1.5, "garden": 0.5, "gone": 0.0}, {"ryobi": 3})
    assert profile is not None
    assert profile.category_affinity == pytest.approx({"tools": 0.75, "garden": 0.25})
    assert profile.brand_affinity == {"ryobi": 1.0}


def test_labels_without_vectors_still_make_a_profile() -> None:
    profile = history_profile(np.zeros((2, 4), np.float32), {"tools": 2}, {})
    assert profile is not None
    assert profile.interests.shape == (0, 4) and profile.interest_weights.shape == (0,)
    assert profile.centroid is None
    assert profile.category_affinity == {"tools": 1.0}


def test_nothing_usable_is_no_profile() -> None:
    assert history_profile(np.zeros((0, 4), np.float32), {}, {}) is None
    assert history_profile(np.zeros((3, 4), np.float32), {"x": 0.0}, {}) is None
