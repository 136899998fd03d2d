"""Item vectors by id from OpenSearch, through the divrank plugin's vector fetch sub-phase.

Item indices keep their vectors out of ``_source`` (a results page never shows them, and loading
384 floats as JSON text per hit was most of the window fetch's cost). The vectors stay in the
segment's vector values, which the plugin reads when a search carries
``ext.divrank_vectors: {"field": …}`` and returns as base64 little-endian float32 under the hit
field ``_divrank_vector``. The sidecar's look-ups and ``divrank profiles build`` both read vectors
this way; an index that still keeps its vectors in ``_source`` is read from there.

The search names ``search_pipeline=_none``: an alias whose default pipeline is divrank would
otherwise send the look-up itself to the sidecar.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["EXT_NAME", "HIT_FIELD", "SEARCH_PARAMS", "by_ids_body", "hit_vector", "search_by_ids"]

EXT_NAME = "divrank_vectors"
HIT_FIELD = "_divrank_vector"
SEARCH_PARAMS = {"search_pipeline": "_none"}


def by_ids_body(
    ids: Sequence[str], vector_field: str, source_fields: Sequence[str], indices: int = 1
) -> dict[str, Any]:
    """A search for exactly ``ids`` in ``indices`` indices (an id may be found in each), with
    their vectors and the named ``_source`` fields."""
    return {
        "size": len(ids) * indices,
        "query": {"ids": {"values": list(ids)}},
        "_source": [vector_field, *source_fields],
        "ext": {EXT_NAME: {"field": vector_field}},
    }


def hit_vector(hit: dict[str, Any], vector_field: str) -> np.ndarray | None:
    """The hit's vector (float32) from the plugin's field, else from ``_source``; None when it
    has none or it is unusable (not finite, not 1-d)."""
    encoded = (hit.get("fields") or {}).get(HIT_FIELD)
    vec: np.ndarray | None = None
    if isinstance(encoded, list) and encoded and isinstance(encoded[0], str):
        try:
            raw = base64.b64decode(encoded[0], validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if raw and len(raw) % 4 == 0:
            vec = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if vec is None:
        listed = (hit.get("_source") or {}).get(vector_field)
        if isinstance(listed, list) and listed:
            try:
                vec = np.asarray(listed, dtype=np.float32)
            except (TypeError, ValueError):
                return None
    if vec is None or vec.ndim != 1 or not np.isfinite(vec).all():
        return None
    return vec


def search_by_ids(
    client: Any, index: str, ids: Sequence[str], vector_field: str = "embedding",
    source_fields: Sequence[str] = (),
) -> list[dict[str, Any]]:  # fmt: skip
    """The hits for ``ids`` in ``index`` (an OpenSearch client), each with its vector field."""
    body = by_ids_body(ids, vector_field, source_fields, indices=index.count(",") + 1)
    hits: list[dict[str, Any]] = client.search(index=index, body=body, params=SEARCH_PARAMS)[
        "hits"
    ]["hits"]
    return hits
