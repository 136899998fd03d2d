"""Every kind of bad rerank request gets a 422 whose ``detail[].loc`` names the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

Payload = dict[str, Any]
Mutation = Callable[[Payload, Any], None]


def _set(path: list[str | int], value: Any) -> Mutation:
    def mutate(body: Payload, kit: Any) -> None:
        target: Any = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: list[str | int]) -> Mutation:
    def mutate(body: Payload, kit: Any) -> None:
        target: Any = body
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _too_many(body: Payload, kit: Any) -> None:
    body["candidates"] = [{"id": f"c{i}", "score": 1.0} for i in range(kit.max_candidates + 1)]


def _too_long(body: Payload, kit: Any) -> None:
    body["candidates"][0]["embedding"] = [0.1] * (kit.max_dimension + 1)


def _duplicate(body: Payload, kit: Any) -> None:
    body["candidates"][3]["id"] = body["candidates"][1]["id"]


CASES: list[tuple[str, Mutation, list[str | int], str]] = [
    ("too many candidates", _too_many, ["body", "candidates"], "too_many_candidates"),
    ("no candidates", _set(["candidates"], []), ["body", "candidates"], "too_short"),
    ("candidates missing", _delete(["candidates"]), ["body", "candidates"], "missing"),
    ("k above candidates", _set(["k"], 7), ["body", "k"], "k_too_large"),
    ("k zero", _set(["k"], 0), ["body", "k"], "greater_than_equal"),
    ("k not a number", _set(["k"], "ten"), ["body", "k"], "int_type"),
    (
        "dimension above limit",
        _too_long,
        ["body", "candidates", 0, "embedding"],
        "dimension_too_large",
    ),
    (
        "empty embedding",
        _set(["candidates", 2, "embedding"], []),
        ["body", "candidates", 2, "embedding"],
        "empty_vector",
    ),
    (
        "inconsistent dimensions",
        _set(["candidates", 2, "embedding"], [0.5] * 5),
        ["body", "candidates", 2, "embedding"],
        "dimension_mismatch",
    ),
    ("duplicate ids", _duplicate, ["body", "candidates", 3, "id"], "duplicate_id"),
    (
        "empty id",
        _set(["candidates", 1, "id"], ""),
        ["body", "candidates", 1, "id"],
        "string_too_short",
    ),
    ("id missing", _delete(["candidates", 4, "id"]), ["body", "candidates", 4, "id"], "missing"),
    (
        "id not a string",
        _set(["candidates", 0, "id"], 17),
        ["body", "candidates", 0, "id"],
        "string_type",
    ),
    (
        "score not a number",
        _set(["candidates", 1, "score"], "high"),
        ["body", "candidates", 1, "score"],
        "float_type",
    ),
    (
        "diversity above 1",
        _set(["knobs", "diversity"], 1.5),
        ["body", "knobs", "diversity"],
        "less_than_equal",
    ),
    (
        "diversity below 0",
        _set(["knobs", "diversity"], -0.1),
        ["body", "knobs", "diversity"],
        "greater_than_equal",
    ),
    (
        "unknown strategy",
        _set(["knobs", "strategy"], "random"),
        ["body", "knobs", "strategy"],
        "literal_error",
    ),
    (
        "misspelt knob",
        _set(["knobs", "diversty"], 0.3),
        ["body", "knobs", "diversty"],
        "extra_forbidden",
    ),
    (
        "brand cap zero",
        _set(["knobs", "max_per_brand"], 0),
        ["body", "knobs", "max_per_brand"],
        "greater_than_equal",
    ),
    ("bad index name", _set(["index"], "items,*"), ["body", "index"], "string_pattern_mismatch"),
    (
        "history vector of another dimension",
        _set(["user"], {"id": "u1", "history": {"vectors": [[0.1, 0.2]]}}),
        ["body", "user", "history", "vectors", 0],
        "dimension_mismatch",
    ),
    (
        "history ids without an index",
        _set(["user"], {"history": {"item_ids": ["a", "b"]}}),
        ["body", "user", "history", "item_ids"],
        "index_required",
    ),
    ("user id empty", _set(["user"], {"id": ""}), ["body", "user", "id"], "string_too_short"),
]


@pytest.mark.parametrize(
    ("mutation", "loc", "kind"),
    [pytest.param(m, loc, kind, id=name) for name, m, loc, kind in CASES],
)
def test_invalid_field_is_named(
    client: httpx.Client, kit: Any, mutation: Mutation, loc: list[str | int], kind: str
) -> None:
    body = copy.deepcopy(kit.payload())
    mutation(body, kit)
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 422, response.text
    details = response.json()["detail"]
    assert any(d["loc"] == loc and d["type"] == kind for d in details), details
    assert all(isinstance(d["msg"], str) and d["msg"] for d in details)


def _raw(body: Payload) -> str:
    return json.dumps(body)


@pytest.mark.parametrize(
    ("literal", "loc"),
    [
        ("NaN", ["body", "candidates", 1, "score"]),
        ("Infinity", ["body", "candidates", 1, "score"]),
        ("-Infinity", ["body", "candidates", 1, "score"]),
        ("1e999", ["body", "candidates", 1, "score"]),  # parses to inf
    ],
)
def test_non_finite_score_is_rejected(
    client: httpx.Client, kit: Any, literal: str, loc: list[str | int]
) -> None:
    body = kit.payload()
    body["candidates"][1]["score"] = "__X__"
    text = _raw(body).replace('"__X__"', literal)
    response = client.post("/v1/rerank", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["loc"] == loc
    assert detail["type"] == "finite_number"


def test_non_finite_embedding_value_is_rejected(client: httpx.Client, kit: Any) -> None:
    body = kit.payload()
    body["candidates"][0]["embedding"][2] = "__X__"
    text = _raw(body).replace('"__X__"', "NaN")
    response = client.post("/v1/rerank", content=text)
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "candidates", 0, "embedding", 2]
    assert detail["type"] == "finite_number"


def test_non_finite_diversity_is_rejected(client: httpx.Client, kit: Any) -> None:
    text = _raw(kit.payload(diversity=0.5)).replace('"diversity": 0.5', '"diversity": NaN')
    response = client.post("/v1/rerank", content=text)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "knobs", "diversity"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"not json",
        b"[]",
        b"null",
        b'"candidates"',
        b"\xff\xfe\x00garbage",
        b'{"candidates": [{"id": "a"}], "k": 1e400}',
        b"[" * 5000 + b"]" * 5000,
        b'{"candidates": {"id": "a"}}',
        b'{"candidates": [null]}',
        b'{"candidates": [{"id": "a", "embedding": "1,2,3"}]}',
        b'{"candidates": [{"id": "a"}], "knobs": null}',
        b'{"candidates": [{"id": "a"}], "user": {"history": {"vectors": [[true]]}}}',
    ],
    ids=lambda c: repr(c[:30]),
)
def test_malformed_bodies_are_422_never_500(client: httpx.Client, content: bytes) -> None:
    response = client.post(
        "/v1/rerank", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)


def test_errors_do_not_echo_large_inputs(client: httpx.Client, kit: Any) -> None:
    body = kit.payload()
    _too_many(body, kit)
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 422
    assert len(response.content) < 1000
    assert "c17" not in response.text


def test_several_errors_are_reported_together(client: httpx.Client, kit: Any) -> None:
    body = kit.payload()
    body["candidates"][3]["id"] = body["candidates"][0]["id"]
    body["k"] = 99
    response = client.post("/v1/rerank", json=body)
    locs = [d["loc"] for d in response.json()["detail"]]
    assert ["body", "k"] in locs
    assert ["body", "candidates", 3, "id"] in locs


def test_unknown_candidate_and_top_level_fields_are_ignored(client: httpx.Client, kit: Any) -> None:
    body = kit.payload()
    body["candidates"][0]["title"] = "HP 305 black"
    body["pipeline"] = "divrank"
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text
