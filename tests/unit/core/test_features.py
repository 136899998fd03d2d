"""Step features on hand-checkable cases: the MSD similarity sum and label novelty."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reranker.core import FEATURE_NAMES, Candidates, Knobs, rollout_features

COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
Make = Callable[..., Candidates]


def test_similarity_sum_is_the_sum_of_cosines_to_the_page(make_candidates: Make) -> None:
    c = make_candidates(40)
    assert c.embeddings is not None
    order = [0, 7, 3, 21]
    roll = rollout_features(c, order, Knobs(diversity=0.5, strategy="fusion"))
    sims = c.embeddings @ c.embeddings.T
    for t in range(len(order)):
        expected = sims[:, order[:t]].sum(axis=1) if t else np.zeros(40)
        np.testing.assert_allclose(roll.features[t, :, COL["similarity_sum"]], expected, atol=1e-5)


def test_novelty_marks_known_labels_not_yet_on_the_page() -> None:
    emb = np.eye(6, dtype=np.float32)
    c = Candidates(
        ids=[f"p{i}" for i in range(6)],
        scores=np.linspace(1.0, 0.5, 6).astype(np.float32),
        embeddings=emb,
        categories=np.array([0, 0, 1, -1, 2, 1], dtype=np.int32),
        brands=np.array([0, 1, 0, 2, -1, 3], dtype=np.int32),
        category_names=["drills", "saws", "tape"],
        brand_names=["acme", "bolt", "crux", "dyna"],
    )
    knobs = Knobs(diversity=0.3, strategy="fusion", query_brands=frozenset({"dyna"}))
    roll = rollout_features(c, [0, 2], knobs)
    brand_new, cat_new = (
        roll.features[..., COL["brand_novelty"]],
        roll.features[..., COL["category_novelty"]],
    )
    # empty page: nothing is "new" yet, so the first pick is relevance's
    assert not brand_new[0].any() and not cat_new[0].any()
    # after p0 (acme, drills): acme and drills are seen; unknown (-1) and the query's brand
    # (dyna, exempt) are never new
    assert brand_new[1].tolist() == [0, 1, 0, 1, 0, 0]
    assert cat_new[1].tolist() == [0, 0, 1, 0, 1, 1]


def test_step_features_match_a_direct_recomputation(make_candidates: Make) -> None:
    """The per-step update (a closure specialised to the request) against a from-scratch
    computation of the similarity features and the DPP gain, with and without a window."""
    from reranker.core.cholesky import IncrementalCholesky

    c = make_candidates(60)
    assert c.embeddings is not None
    order = [3, 17, 0, 42, 8, 25]
    sims = c.embeddings @ c.embeddings.T
    for window in (None, 2):
        knobs = Knobs(diversity=0.8, strategy="fusion", dpp_window=window)
        roll = rollout_features(c, order, knobs)
        chol = IncrementalCholesky(60, len(order), window)
        for t, j in enumerate(order):
            page = order[:t]
            red = np.maximum(sims[:, page].max(axis=1), 0.0) if t else np.zeros(60)
            np.testing.assert_allclose(roll.features[t, :, COL["redundancy"]], red, atol=1e-5)
            np.testing.assert_array_equal(
                roll.features[t, :, COL["near_duplicate"]], (red > 0.97).astype(np.float32)
            )
            gain = np.log(np.maximum(chol.d2, np.float32(np.exp(-8.0))))
            np.testing.assert_allclose(roll.features[t, :, COL["dpp_gain"]], gain, atol=1e-5)
            chol.add(j, c.embeddings @ c.embeddings[j])


def test_label_pressure_is_count_over_cap_in_float32() -> None:
    """Pressure grows by 1/cap per item of the label, as float32 sums (tabulated per count)."""
    n = 8
    c = Candidates(
        ids=[f"p{i}" for i in range(n)],
        scores=np.linspace(1.0, 0.3, n).astype(np.float32),
        embeddings=np.eye(n, dtype=np.float32),
        categories=np.zeros(n, dtype=np.int32),
        brands=np.array([0, 0, 0, 0, 1, 1, -1, 0], dtype=np.int32),
        category_names=["drills"],
        brand_names=["acme", "bolt"],
    )
    knobs = Knobs(diversity=0.5, strategy="fusion", max_per_brand=3, max_per_category=7)
    roll = rollout_features(c, [0, 1, 4, 2, 6], knobs)
    brand_p = roll.features[..., COL["brand_pressure"]]
    third = np.float32(1.0 / 3.0)
    acme = [np.float32(0.0), third, third + third, third + third, third + third + third]
    assert brand_p[:, 3].tolist() == [float(v) for v in acme]
    assert brand_p[:, 6].tolist() == [0.0] * 5  # unknown brand: never any pressure
    # a category cap of 7 on a page of 5 is no cap: pressure is then count / page size
    cat_p = roll.features[..., COL["category_pressure"]]
    np.testing.assert_allclose(cat_p[:, 0], np.arange(5) / 5.0, atol=1e-6)
