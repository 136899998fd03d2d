"""The compiled trees give LightGBM's own scores, bit for bit, missing values included."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest

from reranker.core.tree_ensemble import TreeEnsemble


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 6)).astype(np.float32)
    x[rng.random(x.shape) < 0.15] = np.nan  # NaN-missing splits
    x[rng.random(x.shape) < 0.10] = 0.0
    y = (np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1]) > 0).astype(float)
    return x, y


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_scores_equal_lightgbm_on_rows_with_nan_and_zero(zero_as_missing: bool) -> None:
    x, y = _data(0)
    params = {"objective": "regression", "num_leaves": 15, "min_data_in_leaf": 5,
              "verbose": -1, "zero_as_missing": zero_as_missing, "seed": 0}  # fmt: skip
    booster = lightgbm.train(params, lightgbm.Dataset(x, y), num_boost_round=30)
    trees = TreeEnsemble.from_lightgbm_text(booster.model_to_string())
    test, _ = _data(1)
    np.testing.assert_array_equal(trees.predict(test), booster.predict(test, num_threads=1))


def test_a_single_leaf_tree_and_a_wrong_width_are_handled() -> None:
    x = np.zeros((20, 3), np.float32)
    booster = lightgbm.train({"objective": "regression", "verbose": -1},
                             lightgbm.Dataset(x, np.full(20, 2.0)), num_boost_round=2)  # fmt: skip
    trees = TreeEnsemble.from_lightgbm_text(booster.model_to_string())
    np.testing.assert_array_equal(trees.predict(x[:4]), booster.predict(x[:4]))
    with pytest.raises(ValueError, match="expected \\(n, 3\\)"):
        trees.predict(np.zeros((2, 4), np.float32))


def test_categorical_models_are_refused_so_the_booster_serves_them() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.integers(0, 5, 300), rng.normal(size=300)]).astype(np.float32)
    booster = lightgbm.train({"objective": "regression", "verbose": -1, "min_data_in_leaf": 5},
                             lightgbm.Dataset(x, x[:, 0] * 2.0, categorical_feature=[0]),
                             num_boost_round=3)  # fmt: skip
    with pytest.raises(ValueError, match="categorical"):
        TreeEnsemble.from_lightgbm_text(booster.model_to_string())


def test_the_shipped_relevance_model_serves_through_the_compiled_trees() -> None:
    from reranker.relevance_io import DEFAULT_RELEVANCE_MODEL, load_relevance_model

    model = load_relevance_model(DEFAULT_RELEVANCE_MODEL)
    assert model.trees is not None
    rng = np.random.default_rng(3)
    x = rng.random((200, model.booster.num_feature())).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    expected = model.booster.predict(x, num_threads=1).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), expected)
