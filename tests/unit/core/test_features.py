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
