"""The weight files committed in reranker/models/: each loads cleanly and serves any request.

A model tuned on one dataset (MovieLens users and genres) must run on another (a catalog
without users) and keep the product's promise there: at diversity 0 without a user, the engine
order comes back exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reranker.core import FEATURE_NAMES, rerank
from reranker.core.types import Candidates, Knobs, UserProfile
from reranker.core.weights import DEFAULT_WEIGHTS
from reranker.model_io import load_weights

MODELS = sorted((Path(__file__).resolve().parents[2] / "reranker" / "models").glob("*.json"))


def _candidates(n: int, seed: int) -> Candidates:
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 16)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return Candidates(
        ids=[f"i{i}" for i in range(n)],
        scores=np.sort(rng.uniform(1, 10, n)).astype(np.float32)[::-1].copy(),
        embeddings=emb,
        categories=rng.integers(0, 4, n).astype(np.int32),
        brands=rng.integers(0, 5, n).astype(np.int32),
        category_names=[f"c{i}" for i in range(4)],
        brand_names=[f"b{i}" for i in range(5)],
    )


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def test_models_are_shipped() -> None:
    names = {path.stem for path in MODELS}
    assert {"homedepot-tuned", "movielens-tuned"} <= names


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_loads_with_every_name_known(path: Path) -> None:
    weights = load_weights(path)
    assert weights.notes == (), weights.notes  # no unknown or missing feature names
    assert set(weights.names) <= set(FEATURE_NAMES)
    assert np.isfinite(weights.effective(1.0)).all()


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_serves_a_catalog_without_users(path: Path) -> None:
    weights = load_weights(path)
    cands = _candidates(60, seed=7)
    plain = rerank(cands, 10, Knobs(diversity=0.0, strategy="fusion"), weights=weights)
    assert plain.order.tolist() == list(range(10))
    diverse = rerank(cands, 10, Knobs(diversity=1.0, strategy="fusion"), weights=weights)
    assert len(set(diverse.order.tolist())) == 10
    assert len(set(cands.categories[diverse.order].tolist())) >= len(
        set(cands.categories[:10].tolist())
    )


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_serves_a_user(path: Path) -> None:
    weights = load_weights(path)
    cands = _candidates(60, seed=8)
    assert cands.embeddings is not None
    user = UserProfile(
        interests=cands.embeddings[[5, 40]],
        interest_weights=np.array([0.5, 0.5], dtype=np.float32),
        category_affinity={"c1": 0.8, "c2": 0.2},
        brand_affinity={"b0": 1.0},
        centroid=_unit(cands.embeddings[[5, 40]].mean(axis=0)),
    )
    ranking = rerank(cands, 10, Knobs(diversity=0.5, strategy="fusion"), user=user, weights=weights)
    assert len(set(ranking.order.tolist())) == 10
    assert np.isfinite(ranking.scores).all()


def test_the_relevance_models_weights_keep_the_item_memory() -> None:
    """The sidecar ranks with the relevance model's own fusion weights whenever a request has
    a query and titles; tuned on Home Depot (no users), they must still carry the defaults'
    item memory and prior, or a returning shopper's rebuys would weigh nothing there."""
    from dataclasses import replace

    from reranker.relevance_io import DEFAULT_RELEVANCE_MODEL, load_relevance_model

    model = load_relevance_model(DEFAULT_RELEVANCE_MODEL)
    weights = model.fusion_weights
    assert weights is not None and weights.notes == (), weights.notes
    at0 = weights.effective(0.0)
    for name in ("repeat_affinity", "seen_by_explorer", "popularity"):
        assert at0[FEATURE_NAMES.index(name)] == DEFAULT_WEIGHTS.effective(0.0)[
            FEATURE_NAMES.index(name)], name  # fmt: skip
    titles = [f"Glacier Bay faucet model {k}" for k in range(12)]
    cands = _candidates(12, seed=3)
    scored = replace(cands, relevance=model.score("glacier bay faucet", titles, cands))
    user = UserProfile(interests=np.zeros((0, 16), np.float32),
                       interest_weights=np.zeros(0, np.float32),
                       item_affinity={"i9": 0.9}, repeat_rate=0.8)  # fmt: skip
    page = rerank(scored, 10, Knobs(diversity=0.0, strategy="fusion"), user=user, weights=weights)
    assert page.order[0] == 9  # the shopper's usual, ninth by the model, comes first
