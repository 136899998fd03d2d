"""The learned relevance model: request-time features, the served form (JSON, no pickle), and
its place in the fusion (it re-orders for relevance, and explanations name its term)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import lightgbm
import numpy as np
import pytest

from reranker.core import Candidates, Knobs, rerank
from reranker.core.relevance_features import RELEVANCE_FEATURES, IdfTable, relevance_features
from reranker.core.relevance_model import RelevanceModel
from reranker.relevance_io import (
    DEFAULT_RELEVANCE_MODEL,
    RelevanceModelError,
    load_relevance_model,
    save_relevance_model,
)

COL = {name: i for i, name in enumerate(RELEVANCE_FEATURES)}
TITLES = [
    "Behr Premium 1 gal. Deep Base Exterior Paint",
    "DEWALT 20-Volt MAX Cordless 1/2 in. Drill Driver Kit",
    "Milwaukee M18 Cordless 3/4 in. Impact Wrench",
    "DEWALT 8ft Aluminum Step Ladder",
]


def _candidates(titles: list[str], seed: int = 0) -> Candidates:
    rng = np.random.default_rng(seed)
    n = len(titles)
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return Candidates(
        ids=[f"i{i}" for i in range(n)],
        scores=np.linspace(10, 1, n).astype(np.float32),
        embeddings=emb,
        brands=np.array([0, 1, 2, 1][:n], dtype=np.int32),
        brand_names=["behr", "dewalt", "milwaukee"],
    )


IDF = IdfTable.from_titles(TITLES * 3 + ["cordless drill"] * 2, min_df=1)


def test_title_matches_are_measured_per_candidate() -> None:
    x = relevance_features("dewalt cordless drill", TITLES, _candidates(TITLES), IDF)
    assert x.shape == (4, len(RELEVANCE_FEATURES))
    assert x[1, COL["term_coverage"]] == pytest.approx(1.0)  # all three words in the title
    assert x[0, COL["term_coverage"]] == pytest.approx(0.0)
    assert x[2, COL["term_coverage"]] == pytest.approx(1 / 3)
    assert x[1, COL["idf_coverage_gap"]] == pytest.approx(0.0)  # the best match in the window
    assert x[1, COL["head_term"]] == 1.0 and x[3, COL["head_term"]] == 0.0
    assert x[1, COL["brand_in_query"]] == 1.0 and x[2, COL["brand_in_query"]] == 0.0
    assert (x[:, COL["query_names_brand"]] == 1.0).all()
    assert x[0, COL["engine_rank"]] == 0.0 and x[3, COL["engine_rank"]] == 1.0


def test_numbers_and_units_match_across_spacing() -> None:
    x = relevance_features("3/4 in impact wrench", TITLES, _candidates(TITLES), IDF)
    assert x[2, COL["number_coverage"]] == pytest.approx(1.0)
    assert x[1, COL["number_coverage"]] == pytest.approx(0.0)  # "1/2 in." is not "3/4 in."
    y = relevance_features("8 ft ladder", TITLES, _candidates(TITLES), IDF)  # title says "8ft"
    assert y[3, COL["term_coverage"]] == pytest.approx(1.0)
    z = relevance_features("cordless drill", TITLES, _candidates(TITLES), IDF)
    assert np.isnan(z[:, COL["number_coverage"]]).all()  # no number asked for: unknown


def test_a_missing_rare_word_weighs_more_than_a_missing_common_one() -> None:
    x = relevance_features("cordless wrench", TITLES, _candidates(TITLES), IDF)
    # title 1 lacks "wrench" (rare), title 2 has both
    assert x[1, COL["missing_idf"]] > 0.0 and x[2, COL["missing_idf"]] == 0.0


def test_vector_features_need_a_query_vector() -> None:
    cands = _candidates(TITLES)
    x = relevance_features("drill", TITLES, cands, IDF)
    assert np.isnan(x[:, COL["cosine"]]).all()
    assert np.isfinite(x[:, COL["feedback_cosine"]]).all()  # from the window alone
    assert cands.embeddings is not None
    q = cands.embeddings[2]
    y = relevance_features("drill", TITLES, cands, IDF, query_vector=q)
    assert y[2, COL["cosine"]] == pytest.approx(1.0, abs=1e-5)
    assert y[2, COL["cosine_rank"]] == 0.0 and y[2, COL["cosine_gap"]] == pytest.approx(0.0)


def test_missing_titles_are_nan_and_a_length_mismatch_is_an_error() -> None:
    titles: list[str | None] = [TITLES[0], None, TITLES[2], ""]
    x = relevance_features("paint", titles, _candidates(TITLES), IDF)
    assert np.isnan(x[1, COL["term_coverage"]]) and np.isnan(x[3, COL["title_length"]])
    with pytest.raises(ValueError, match="3 titles for 4 candidates"):
        relevance_features("paint", TITLES[:3], _candidates(TITLES), IDF)


def _tiny_model() -> RelevanceModel:
    """A model that learned 'term coverage is relevance' from synthetic windows."""
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for _ in range(60):
        x = rng.random((20, len(RELEVANCE_FEATURES))).astype(np.float32)
        rows.append(x)
        labels.append((x[:, COL["term_coverage"]] * 4).astype(int))
    data = lightgbm.Dataset(np.concatenate(rows), np.concatenate(labels), group=[20] * 60)
    booster = lightgbm.train({"objective": "lambdarank", "verbose": -1, "num_leaves": 4,
                              "min_data_in_leaf": 5}, data, num_boost_round=20)  # fmt: skip
    return RelevanceModel(booster, IDF, "tiny", {})


def test_the_model_round_trips_through_json_without_pickle(tmp_path: Path) -> None:
    model = _tiny_model()
    path = save_relevance_model(model, tmp_path / "rel.json")
    data = json.loads(path.read_text())  # plain JSON: readable, no pickle anywhere
    assert data["features"] == list(RELEVANCE_FEATURES) and isinstance(data["lightgbm"], str)
    loaded = load_relevance_model(path)
    cands = _candidates(TITLES)
    np.testing.assert_allclose(loaded.score("dewalt drill", TITLES, cands),
                               model.score("dewalt drill", TITLES, cands), rtol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not readable JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"format": "other"}', "format is 'other'"),
        ('{"format": "divrank-relevance/1", "features": ["a"]}', "retrain it"),
    ],
)
def test_a_bad_model_file_is_one_clear_error(tmp_path: Path, content: str | None,
                                             message: str) -> None:  # fmt: skip
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RelevanceModelError, match=message) as info:
        load_relevance_model(path)
    assert str(path) in str(info.value)


def test_corrupt_model_text_is_refused(tmp_path: Path) -> None:
    data = _tiny_model().to_dict()
    data["lightgbm"] = "tree\nversion=v4\nnonsense"
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RelevanceModelError, match="model"):
        load_relevance_model(path)


def test_the_fusion_ranks_by_learned_relevance_and_explains_it() -> None:
    cands = _candidates(TITLES)
    learned = replace(cands, relevance=np.array([0.1, 3.0, 0.5, 2.0], dtype=np.float32))
    engine_first = rerank(cands, 4, Knobs(diversity=0.0, strategy="fusion"))
    assert engine_first.order.tolist() == [0, 1, 2, 3]
    ranking = rerank(learned, 4, Knobs(diversity=0.0, strategy="fusion", explain=True))
    assert ranking.order.tolist() == [1, 3, 2, 0]
    assert ranking.explanations is not None
    for item, score in zip(ranking.explanations, ranking.scores, strict=True):
        assert "learned_relevance" in item["contributions"]
        assert "relevance" not in item["contributions"]
        assert sum(item["contributions"].values()) == pytest.approx(float(score), abs=1e-5)
        assert item["features"]["engine_score"] == pytest.approx(
            float(cands.scores[item["engine_rank"]])
        )
    # the engine strategy stays the engine's order whatever the model says
    assert rerank(learned, 4, Knobs(strategy="engine")).order.tolist() == [0, 1, 2, 3]


def test_the_shipped_model_loads_and_prefers_the_matching_title() -> None:
    model = load_relevance_model(DEFAULT_RELEVANCE_MODEL)
    titles = ["Behr 1 gal. Exterior Paint", "Everbilt 3/4 in. Galvanized Pipe Nipple",
              "Sharkbite 3/4 in. Push-to-Connect Coupling", "Hampton Bay Ceiling Fan"]  # fmt: skip
    cands = replace(_candidates(titles), scores=np.ones(4, dtype=np.float32))  # engine: a tie
    scores = model.score("sharkbite 3/4 coupling", titles, cands)
    assert int(np.argmax(scores)) == 2


def test_the_gain_temperature_is_stored_with_the_model_and_curves_its_scores(
    tmp_path: Path,
) -> None:
    from reranker.core.normalize import learned_gains

    model = _tiny_model()
    cands = _candidates(TITLES)
    raw = model.predict(relevance_features("dewalt drill", TITLES, cands, IDF))
    sharp = replace(model, gain_temperature=0.2)
    loaded = load_relevance_model(save_relevance_model(sharp, tmp_path / "rel.json"))
    assert loaded.gain_temperature == 0.2
    gains = loaded.score("dewalt drill", TITLES, cands)
    np.testing.assert_allclose(gains, learned_gains(raw, 0.2), rtol=1e-6)
    assert gains.max() == pytest.approx(1.0)
    # a file written before the temperature existed reads as the min-max line
    data = json.loads((tmp_path / "rel.json").read_text())
    del data["gain_temperature"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert load_relevance_model(tmp_path / "old.json").gain_temperature == 0.0


@pytest.mark.parametrize("bad", [-1, 11, "0.2", True, None])
def test_a_bad_gain_temperature_stops_the_load_with_its_field(tmp_path: Path, bad: object) -> None:
    data = _tiny_model().to_dict()
    data["gain_temperature"] = bad
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RelevanceModelError, match="gain_temperature") as info:
        load_relevance_model(path)
    assert str(path) in str(info.value)
