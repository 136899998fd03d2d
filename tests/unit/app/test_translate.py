"""Request → core dataclasses: labels, codes, vectors, imputation, profiles, intent."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reranker.app.schemas import Limits, RerankRequest
from reranker.app.services.profiles import StoredProfile
from reranker.app.services.translate import (
    brand_key,
    category_key,
    page_size,
    to_candidates,
    to_knobs,
    to_profile,
)
from reranker.app.services.vectors import ItemRecord
from reranker.core.profile import affinity_of, category_repeat_rates, shrunk_repeat_rate


def _request(body: dict[str, Any]) -> RerankRequest:
    return RerankRequest.model_validate(body, context=Limits())


def test_label_keys_are_case_and_space_insensitive() -> None:
    assert category_key(" Printing / Toner  Cartridge/") == "printing/toner cartridge"
    assert category_key(" / ") is None
    assert brand_key("  Hewlett   Packard ") == "hewlett packard"
    assert brand_key("   ") is None


def test_candidates_codes_scores_and_unit_vectors() -> None:
    request = _request(
        {
            "candidates": [
                {
                    "id": "a",
                    "score": 2.0,
                    "embedding": [3.0, 4.0],
                    "brand": "HP",
                    "category": "Printing/Toner",
                },
                {"id": "b", "score": None, "embedding": [0.0, 2.0], "brand": "hp"},
                {"id": "c", "score": 1.0, "embedding": [0.0, 0.0], "category": "printing/toner"},
            ]
        }
    )
    cands, notes = to_candidates(request, {})
    assert notes == []
    assert cands.ids == ["a", "b", "c"]
    assert cands.scores[0] == 2.0 and np.isnan(cands.scores[1])
    assert cands.embeddings is not None and cands.embeddings.dtype == np.float32
    np.testing.assert_allclose(cands.embeddings[0], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(cands.embeddings[1], [0.0, 1.0])
    np.testing.assert_allclose(cands.embeddings[2], [0.0, 0.0])  # zero stays zero
    assert cands.brand_names == ["hp"] and list(cands.brands) == [0, 0, -1]
    assert cands.category_names == ["printing/toner"] and list(cands.categories) == [0, -1, 0]
    assert page_size(request) == 3


def test_looked_up_vectors_and_labels_fill_gaps_and_request_wins() -> None:
    request = _request(
        {
            "candidates": [
                {"id": "a", "score": 1.0, "brand": "acme"},
                {"id": "b", "score": 1.0},
            ]
        }
    )
    fetched = {
        "a": ItemRecord(np.array([1.0, 0.0], np.float32), "audio", "sony"),
        "b": ItemRecord(np.array([0.0, 5.0], np.float32), "audio/headphones", "sony"),
    }
    cands, notes = to_candidates(request, fetched)
    assert notes == []
    np.testing.assert_allclose(cands.embeddings, [[1.0, 0.0], [0.0, 1.0]])
    assert cands.brand_names == ["acme", "sony"]  # the request's brand for "a" wins
    assert cands.category_names == ["audio", "audio/headphones"]


def test_missing_vector_gets_the_mean_of_the_others() -> None:
    request = _request(
        {
            "candidates": [
                {"id": "a", "embedding": [1.0, 0.0]},
                {"id": "b"},
                {"id": "c", "embedding": [0.0, 1.0]},
            ]
        }
    )
    cands, notes = to_candidates(request, {})
    assert notes == ["vectors_missing"]
    s = 1 / np.sqrt(2)
    np.testing.assert_allclose(cands.embeddings[1], [s, s], rtol=1e-6)


def test_no_vectors_anywhere_means_none() -> None:
    cands, notes = to_candidates(_request({"candidates": [{"id": "a"}, {"id": "b"}]}), {})
    assert cands.embeddings is None and notes == []


def _stored(**kw: Any) -> StoredProfile:
    base: dict[str, Any] = {
        "interests": np.array([[2.0, 0.0], [0.0, 1.0]], np.float32),
        "interest_weights": np.array([3.0, 1.0], np.float32),
        "centroid": np.array([1.0, 1.0], np.float32),
        "category_hist": {"Printing/Toner": 3.0, "audio": 1.0},
        "brand_hist": {"HP": 1.0},
    }
    base.update(kw)
    return StoredProfile(**base)


def test_stored_profile_is_normalised() -> None:
    user, notes = to_profile(_stored(), [], [], dim=2)
    assert notes == [] and user is not None
    np.testing.assert_allclose(user.interests, [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(user.interest_weights, [0.75, 0.25])
    np.testing.assert_allclose(np.linalg.norm(user.centroid), 1.0, rtol=1e-6)
    assert user.category_affinity == {"printing/toner": 0.75, "audio": 0.25}
    assert user.brand_affinity == {"hp": 1.0}


def test_profile_of_another_dimension_keeps_only_histograms() -> None:
    user, notes = to_profile(_stored(), [], [], dim=3)
    assert notes == ["profile_dimension_mismatch"]
    assert user is not None and user.interests.shape == (0, 3) and user.centroid is None
    assert user.brand_affinity == {"hp": 1.0}


def test_inline_history_alone() -> None:
    records = [ItemRecord(np.array([0.0, 3.0], np.float32), "audio", "sony")]
    user, _ = to_profile(None, [np.array([4.0, 0.0], np.float32)], records, dim=2)
    assert user is not None
    np.testing.assert_allclose(user.interests, [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(user.interest_weights, [0.5, 0.5])
    assert user.category_affinity == {"audio": 1.0}
    assert user.brand_affinity == {"sony": 1.0}


def test_stored_and_inline_weigh_half_each() -> None:
    user, _ = to_profile(_stored(), [np.array([1.0, 1.0], np.float32)], [], dim=2)
    assert user is not None and user.interests.shape == (3, 2)
    np.testing.assert_allclose(user.interest_weights, [0.375, 0.125, 0.5])
    assert user.interest_weights.sum() == pytest.approx(1.0)


def test_nothing_known_means_no_profile() -> None:
    assert to_profile(None, [], [], dim=2) == (None, [])
    empty = _stored(
        interests=np.zeros((0, 0), np.float32),
        interest_weights=np.zeros(0),
        centroid=None,
        category_hist={},
        brand_hist={},
    )
    assert to_profile(empty, [], [], dim=2)[0] is None


def test_query_intent_on_brands_and_any_category_level() -> None:
    request = _request(
        {
            "query": "HP toner cartridges",
            "candidates": [
                {"id": "a", "brand": "HP", "category": "printing/toner cartridge"},
                {"id": "b", "brand": "Canon", "category": "printing/paper"},
                {"id": "c", "brand": "hp", "category": "computers/laptops"},
            ],
            "knobs": {"diversity": 0.8, "strategy": "mmr", "max_per_brand": 2},
        }
    )
    cands, _ = to_candidates(request, {})
    knobs = to_knobs(request, cands)
    assert knobs.query_brands == frozenset({"hp"})
    assert knobs.query_categories == frozenset({"printing/toner cartridge"})
    assert (knobs.diversity, knobs.strategy, knobs.max_per_brand) == (0.8, "mmr", 2)


def test_query_naming_a_top_level_names_its_paths() -> None:
    request = _request(
        {
            "query": "printing",
            "candidates": [
                {"id": "a", "category": "printing/toner"},
                {"id": "b", "category": "printing/paper"},
                {"id": "c", "category": "audio"},
            ],
        }
    )
    cands, _ = to_candidates(request, {})
    assert to_knobs(request, cands).query_categories == {"printing/toner", "printing/paper"}
    no_query = _request({"candidates": [{"id": "a", "brand": "hp"}]})
    assert to_knobs(no_query, to_candidates(no_query, {})[0]).query_brands == frozenset()


def test_item_memory_from_the_stored_profile_and_inline_ids() -> None:
    stored = _stored(item_weights={"sku1": 16.0, "sku2": 8.0}, repeats=(3, 4))
    user, _ = to_profile(stored, [], [], dim=2, history_item_ids=["sku2", "sku3"])
    assert user is not None
    assert user.repeat_rate == pytest.approx(shrunk_repeat_rate(3, 4))  # stored wins
    assert set(user.item_affinity) == {"sku1", "sku2", "sku3"}
    assert user.item_affinity["sku2"] == pytest.approx(affinity_of({"sku2": 8.0})["sku2"])
    alone, _ = to_profile(None, [], [], dim=2, history_item_ids=["a", "a", "b"])
    assert alone is not None and alone.repeat_rate == pytest.approx(shrunk_repeat_rate(1, 2))


def test_repeat_rates_per_category_from_the_stored_profile_and_inline_ids() -> None:
    counts = {"Grocery/Milk": (3, 3), "grocery/cheese": (0, 1)}
    stored = _stored(item_weights={"sku1": 16.0}, repeats=(3, 4), category_repeats=counts)
    user, _ = to_profile(stored, [], [], dim=2, history_item_ids=["x"])
    assert user is not None
    rate = shrunk_repeat_rate(3, 4)
    # keys normalised as candidate categories are; the stored history wins
    assert user.category_repeat_rate == category_repeat_rates(
        {"grocery/milk": (3, 3), "grocery/cheese": (0, 1)}, rate
    )
    alone, _ = to_profile(None, [], [], dim=2, history_item_ids=["a", "a", "b"],
                          history_item_categories=["Milk", "Milk", None])  # fmt: skip
    assert alone is not None
    assert alone.category_repeat_rate == category_repeat_rates({"milk": (1, 1)}, alone.repeat_rate)


def test_candidate_popularity_reaches_the_core() -> None:
    request = _request({"candidates": [{"id": "a", "score": 1.0, "popularity": 12},
                                       {"id": "b", "score": 0.5}]})  # fmt: skip
    candidates, _ = to_candidates(request, {})
    np.testing.assert_allclose(candidates.popularity, [12.0, 0.0])
    plain, _ = to_candidates(_request({"candidates": [{"id": "a", "score": 1.0}]}), {})
    assert plain.popularity is None
