"""``embedding_b64``: the compact vector form gives the same answer, and bad input a named 422."""

from __future__ import annotations

import base64
import copy
from typing import Any

import httpx
import numpy as np
import pytest

Payload = dict[str, Any]


def _b64(values: Any) -> str:
    return base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode("ascii")


def _as_b64(body: Payload) -> Payload:
    """The same request with every JSON embedding re-sent as float32 base64."""
    out = copy.deepcopy(body)
    for cand in out["candidates"]:
        cand["embedding_b64"] = _b64(cand.pop("embedding"))
    return out


def _post(client: httpx.Client, body: Payload) -> httpx.Response:
    return client.post("/v1/rerank", json=body)


@pytest.mark.parametrize("dim", [16, 12])  # 12: texts without padding, decoded in one pass
@pytest.mark.parametrize("strategy", ["fusion", "mmr", "dpp"])
def test_b64_answer_equals_json_answer(
    client: httpx.Client, kit: Any, strategy: str, dim: int
) -> None:
    body = kit.payload(n=12, dim=dim, k=12, diversity=0.7, strategy=strategy, explain=True)
    as_json = _post(client, body)
    as_b64 = _post(client, _as_b64(body))
    assert as_json.status_code == 200 and as_b64.status_code == 200, as_b64.text
    assert as_b64.json()["ids"] == as_json.json()["ids"]
    assert as_b64.json()["scores"] == pytest.approx(as_json.json()["scores"], abs=1e-6)
    assert as_json.json()["ids"] != [c["id"] for c in body["candidates"]], "nothing reordered"


def test_forms_can_be_mixed_and_dimensions_are_compared(client: httpx.Client, kit: Any) -> None:
    body = kit.payload(n=6, dim=8)
    body["candidates"][2]["embedding_b64"] = _b64(body["candidates"][2].pop("embedding"))
    assert _post(client, body).status_code == 200

    body["candidates"][4]["embedding_b64"] = _b64(np.ones(5))
    del body["candidates"][4]["embedding"]
    response = _post(client, body)
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "candidates", 4, "embedding_b64"]
    assert detail["type"] == "dimension_mismatch"


def _nan_at_3() -> str:
    values = np.ones(8, dtype="<f4")
    values[3] = np.nan
    return _b64(values)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("not base64!", "invalid_base64"),
        ("AAAAAAAA==AA", "invalid_base64"),  # data after padding
        ("AAAAAAA\n", "invalid_base64"),  # stray character (a newline)
        ("AAAAAAAé", "invalid_base64"),  # not ASCII
        ("AAAAAAA", "invalid_base64"),  # missing padding
        (base64.b64encode(b"\x00" * 6).decode(), "vector_length"),  # 1.5 floats
        ("", "empty_vector"),
        (_nan_at_3(), "finite_number"),
        (_b64([1.0, np.inf, 0.0]), "finite_number"),
        (_b64(np.ones(65)), "dimension_too_large"),  # MAX_DIMENSION is 64 in these tests
        ("A" * 2_000, "dimension_too_large"),  # refused before decoding
        (12, "string_type"),
        ([0.1, 0.2], "string_type"),
    ],
)
def test_bad_b64_is_a_422_naming_the_field(
    client: httpx.Client, kit: Any, value: Any, kind: str
) -> None:
    body = kit.payload(n=4, dim=8)
    del body["candidates"][1]["embedding"]
    body["candidates"][1]["embedding_b64"] = value
    response = _post(client, body)
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "candidates", 1, "embedding_b64"]
    assert detail["type"] == kind
    assert len(response.text) < 2000, "a large input is never echoed back"


def test_a_bad_vector_in_a_window_decoded_in_one_pass_is_named(
    client: httpx.Client, kit: Any
) -> None:
    body = _as_b64(kit.payload(n=6, dim=12))
    values = np.ones(12, dtype="<f4")
    values[9] = np.inf
    body["candidates"][4]["embedding_b64"] = _b64(values)
    response = _post(client, body)
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "candidates", 4, "embedding_b64"]
    assert detail["type"] == "finite_number" and "position 9" in detail["msg"]


def test_nan_position_is_reported(client: httpx.Client, kit: Any) -> None:
    body = kit.payload(n=3, dim=8)
    body["candidates"][0]["embedding_b64"] = _nan_at_3()
    del body["candidates"][0]["embedding"]
    [detail] = _post(client, body).json()["detail"]
    assert "position 3" in detail["msg"]


def test_both_forms_on_one_candidate_are_refused(client: httpx.Client, kit: Any) -> None:
    body = kit.payload(n=3, dim=8)
    body["candidates"][0]["embedding_b64"] = _b64(body["candidates"][0]["embedding"])
    response = _post(client, body)
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "candidates", 0, "embedding_b64"]
    assert detail["type"] == "embedding_conflict"


def test_openapi_documents_embedding_b64(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Candidate"]
    prop = schema["properties"]["embedding_b64"]
    options = prop.get("anyOf", [prop])
    assert any(o.get("type") == "string" and o.get("contentEncoding") == "base64" for o in options)
