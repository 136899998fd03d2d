"""Interest soft-max, centroid cosine and excess (compiled) against a float64 reference."""

from __future__ import annotations

import numpy as np
import pytest

from reranker.core.personalization import INTEREST_TEMPERATURE, user_similarities


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("m", [1, 3])
def test_matches_the_formula(m: int) -> None:
    rng = np.random.default_rng(m)
    emb = _unit(rng.normal(size=(40, 384)))
    interests = _unit(rng.normal(size=(m, 384)))
    weights = rng.dirichlet(np.ones(m)).astype(np.float32)
    centroid = _unit(rng.normal(size=384))
    out = np.zeros((3, 40), dtype=np.float32)
    user_similarities(
        emb, interests, weights, centroid, INTEREST_TEMPERATURE, out[0], out[1], out[2]
    )
    cos = emb.astype(np.float64) @ interests.astype(np.float64).T
    t = INTEREST_TEMPERATURE
    expected = t * np.log(np.exp(cos / t) @ weights.astype(np.float64))
    np.testing.assert_allclose(out[0], expected, atol=2e-5)
    assert (out[0] <= cos.max(axis=1) + 1e-5).all()  # never above the best cosine
    sim = emb.astype(np.float64) @ centroid
    np.testing.assert_allclose(out[1], sim, atol=2e-6)
    np.testing.assert_allclose(out[2], np.maximum(sim - sim.mean(), 0.0), atol=2e-6)


def test_missing_parts_leave_their_outputs_alone() -> None:
    rng = np.random.default_rng(0)
    emb = _unit(rng.normal(size=(5, 8)))
    out = np.full((3, 5), 7.0, dtype=np.float32)
    none = np.zeros(0, dtype=np.float32)
    user_similarities(emb, np.zeros((0, 8), np.float32), none, none, 0.1, out[0], out[1], out[2])
    assert (out == 7.0).all()
