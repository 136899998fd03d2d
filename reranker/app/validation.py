"""Turn a raw request body into a checked ``RerankRequest`` or a 422 naming every bad field.

Parsing goes straight from bytes through pydantic's JSON parser (about 4x faster than
``json.loads`` plus validation on a 100 x 384 payload). Python's ``NaN``/``Infinity`` literals
parse but are rejected as non-finite, like any other non-finite number. Error entries never
echo large inputs back: a rejected 1000-candidate list is not returned to the caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from reranker.app.base64_vectors import decode_window
from reranker.app.schemas import Limits, RerankRequest

__all__ = ["MAX_REPORTED_ERRORS", "decode_vectors", "parse_rerank_request", "request_errors"]

MAX_REPORTED_ERRORS = 20
_MAX_ECHO_CHARS = 200

ErrorDetail = dict[str, Any]


def _error(loc: Sequence[str | int], kind: str, msg: str, value: Any = None) -> ErrorDetail:
    detail: ErrorDetail = {"type": kind, "loc": ["body", *loc], "msg": msg}
    if value is not None:
        detail["input"] = value
    return detail


def _echo(value: Any) -> Any:
    """Scalars and short strings are worth echoing; containers and long strings are not."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN is not JSON
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, str) and len(value) <= _MAX_ECHO_CHARS:
        return value
    return None


def _from_pydantic(exc: ValidationError) -> list[ErrorDetail]:
    details: list[ErrorDetail] = []
    for err in exc.errors(include_url=False)[:MAX_REPORTED_ERRORS]:
        detail = _error(err["loc"], err["type"], err["msg"], _echo(err.get("input")))
        ctx = err.get("ctx")
        if ctx:
            detail["ctx"] = {
                key: _echo(val) if _echo(val) is not None else str(val) for key, val in ctx.items()
            }
        details.append(detail)
    return details


def request_errors(request: RerankRequest) -> list[ErrorDetail]:
    """Checks that span fields: ``k``, unique ids, one embedding dimension everywhere."""
    errors: list[ErrorDetail] = []
    n = len(request.candidates)
    if request.k is not None and request.k > n:
        errors.append(
            _error(
                ["k"], "k_too_large", f"k={request.k} is more than the {n} candidates", request.k
            )
        )

    first_seen: dict[str, int] = {}
    for i, cand in enumerate(request.candidates):
        j = first_seen.setdefault(cand.id, i)
        if j != i:
            errors.append(
                _error(
                    ["candidates", i, "id"],
                    "duplicate_id",
                    f"id {cand.id!r} already used by candidates[{j}]",
                    _echo(cand.id),
                )
            )

    dim: int | None = None
    dim_source = ""
    for i, (cand, vector) in enumerate(zip(request.candidates, request.vectors(), strict=True)):
        if vector is None:
            continue
        if dim is None:
            dim, dim_source = len(vector), f"candidates[{i}]"
        elif len(vector) != dim:
            errors.append(
                _error(
                    ["candidates", i, cand.vector_field],
                    "dimension_mismatch",
                    f"embedding has {len(vector)} numbers, {dim_source} has {dim}",
                )
            )

    history = request.user.history if request.user else None
    if history is not None:
        for i, vector in enumerate(history.vectors):
            if dim is None:
                dim, dim_source = len(vector), f"user.history.vectors[{i}]"
            elif len(vector) != dim:
                errors.append(
                    _error(
                        ["user", "history", "vectors", i],
                        "dimension_mismatch",
                        f"vector has {len(vector)} numbers, {dim_source} has {dim}",
                    )
                )
        if history.item_ids and request.index is None:
            errors.append(
                _error(
                    ["user", "history", "item_ids"],
                    "index_required",
                    "history item ids are looked up by id: name an `index`",
                )
            )
    return errors[:MAX_REPORTED_ERRORS]


def decode_vectors(request: RerankRequest, limits: Limits) -> list[ErrorDetail]:
    """Decodes every ``embedding_b64`` of the window at once; one error per bad text."""
    cands = request.candidates
    texts = [c.embedding_b64 for c in cands]
    if all(t is None for t in texts):
        request.set_vectors([c.embedding for c in cands], None)
        return []
    window = decode_window(texts, limits.max_dimension)
    pairs = zip(cands, window.vectors, strict=True)
    vectors: list[Any] = [c.embedding if c.embedding_b64 is None else v for c, v in pairs]
    request.set_vectors(vectors, window.matrix)
    return [
        _error(["candidates", i, "embedding_b64"], exc.kind, exc.message)
        for i, exc in window.errors[:MAX_REPORTED_ERRORS]
    ]


def parse_rerank_request(body: bytes, limits: Limits) -> RerankRequest:
    """Parse and check a body; raises ``RequestValidationError`` (422) with field locations."""
    try:
        request = RerankRequest.model_validate_json(body, context=limits)
    except ValidationError as exc:
        raise RequestValidationError(_from_pydantic(exc)) from None
    errors = decode_vectors(request, limits) or request_errors(request)
    if errors:
        raise RequestValidationError(errors)
    return request
