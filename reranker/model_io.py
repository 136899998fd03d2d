"""Fusion weights on disk: safetensors tensors plus JSON metadata, or one small JSON; never pickle.

``save_weights(weights, path, metadata=None)``:

- ``*.safetensors``: tensors ``values`` and ``diversity_slope`` (float32, one entry per
  feature) and, beside it, ``path`` with suffix ``.json`` (``format``, ``format_version``,
  ``version``, ``feature_names`` in tensor order, optional ``metadata`` such as the training
  run's settings). The same metadata also sits in the safetensors header, so the tensor file
  alone is enough to load.
- ``*.json``: the same metadata with ``values`` and ``diversity_slope`` inline as lists: a
  dozen numbers, small enough to commit (``reranker/models/``), readable in a review.

``load_weights(path)`` reads either and matches weights to the ranking core's features by
name: unknown names are ignored and missing ones weigh 0, each with a note in
``FusionWeights.notes`` (also logged). numpy only (``safetensors.numpy``), so serving never
imports torch.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from reranker.core.weights import FusionWeights

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "load_weights",
    "metadata_path",
    "save_weights",
    "weights_from_dict",
    "weights_to_dict",
]

FORMAT = "divrank-fusion-weights"
FORMAT_VERSION = 1
_TENSORS = ("values", "diversity_slope")
log = logging.getLogger(__name__)


def metadata_path(path: Path) -> Path:
    """Where the JSON metadata of a weights file lives."""
    return path.with_suffix(".json")


def save_weights(
    weights: FusionWeights, path: Path | str, metadata: dict[str, Any] | None = None
) -> Path:
    """Write the weights (safetensors + JSON, or inline JSON for ``*.json``); returns ``path``.

    ``metadata``: JSON-ready facts about how the weights were made (dataset, seed, scores).
    """
    target = Path(path)
    meta = weights_to_dict(weights, metadata)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".json":
        target.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return target
    for key in _TENSORS:
        del meta[key]
    tensors = {
        "values": np.ascontiguousarray(weights.values, dtype=np.float32),
        "diversity_slope": np.ascontiguousarray(weights.diversity_slope, dtype=np.float32),
    }
    save_file(tensors, str(target), metadata={"divrank": json.dumps(meta)})
    metadata_path(target).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return target


def _read_metadata(path: Path) -> dict[str, Any]:
    side = metadata_path(path)
    if path.suffix == ".json" or side.exists():
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{side}: not valid JSON ({exc})") from exc
    else:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as handle:
            header = (handle.metadata() or {}).get("divrank")
        if header is None:
            raise ValueError(f"{path}: no {side.name} beside it and no divrank header metadata")
        meta = json.loads(header)
    return _checked(meta, str(side))


def _checked(meta: Any, source: str) -> dict[str, Any]:
    """The metadata's format, version and feature names, or a ValueError naming ``source``."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{source}: 'format' must be {FORMAT!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{source}: format_version {meta.get('format_version')!r} is not {FORMAT_VERSION}"
        )
    names = meta.get("feature_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{source}: 'feature_names' must be a list of strings")
    return meta


def weights_to_dict(
    weights: FusionWeights, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The inline JSON form (what ``*.json`` files hold), e.g. to embed in another model file."""
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": weights.version,
        "feature_names": list(weights.names),
    }
    if metadata:
        meta["metadata"] = metadata
    meta["values"] = [float(v) for v in weights.values]
    meta["diversity_slope"] = [float(v) for v in weights.diversity_slope]
    if weights.knob_curve:
        meta["knob_curve"] = [[a, b] for a, b in weights.knob_curve]
    return meta


def weights_from_dict(meta: Any, source: str) -> FusionWeights:
    """Weights from their inline JSON form; errors name ``source``."""
    meta = _checked(meta, source)
    tensors = {}
    for key in _TENSORS:
        raw = meta.get(key)
        if not isinstance(raw, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in raw
        ):
            raise ValueError(f"{source}: {key!r} must be a list of numbers")
        tensors[key] = np.asarray(raw, dtype=np.float32)
    return _weights(meta, tensors, source)


def _weights(meta: dict[str, Any], tensors: dict[str, Any], source: str) -> FusionWeights:
    names = tuple(meta["feature_names"])
    arrays = []
    for key in _TENSORS:
        if key not in tensors:
            raise ValueError(f"{source}: tensor {key!r} is missing")
        arr = np.asarray(tensors[key], dtype=np.float32).reshape(-1)
        if arr.shape != (len(names),):
            raise ValueError(
                f"{source}: tensor {key!r} has {arr.shape[0]} entries for {len(names)} names"
            )
        arrays.append(arr)
    curve = meta.get("knob_curve", [])
    if not isinstance(curve, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, int | float) for v in p)
        for p in curve
    ):
        raise ValueError(f"{source}: 'knob_curve' must be a list of [asked, applied] pairs")
    try:
        weights = FusionWeights(names, arrays[0], arrays[1],
                                str(meta.get("version", "unversioned")),
                                knob_curve=tuple((p[0], p[1]) for p in curve))  # fmt: skip
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    for note in weights.notes:
        log.warning("fusion weights %s: %s", source, note)
    return weights


def load_weights(path: Path | str) -> FusionWeights:
    """Load weights saved by ``save_weights`` (or by the trainer), matched by feature name."""
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"fusion weights file not found: {source}")
    meta = _read_metadata(source)
    if source.suffix == ".json":
        return weights_from_dict(meta, str(metadata_path(source)))
    try:
        tensors = load_file(str(source))
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{source}: not a readable safetensors file ({exc})") from exc
    return _weights(meta, tensors, str(source))
