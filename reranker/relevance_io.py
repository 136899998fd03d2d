"""The learned relevance model on disk: one JSON file (LightGBM model text, features, IDF), no
pickle. Errors name the file and what is wrong, so a bad model stops the sidecar at start."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from reranker.core.relevance_model import RelevanceModel
from reranker.model_io import weights_from_dict, weights_to_dict

__all__ = ["DEFAULT_RELEVANCE_MODEL", "RelevanceModelError", "load_relevance_model",
           "save_relevance_model"]  # fmt: skip

# trained on the Home Depot train split by `divrank train-relevance` (see README "Relevance")
DEFAULT_RELEVANCE_MODEL = Path(__file__).parent / "models" / "relevance" / "homedepot.json"


class RelevanceModelError(ValueError):
    """The relevance model file is missing, unreadable or not a relevance model."""


def load_relevance_model(path: Path | str) -> RelevanceModel:
    source = Path(path)
    if not source.is_file():
        raise RelevanceModelError(f"relevance model {source}: no such file")
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RelevanceModelError(f"relevance model {source}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise RelevanceModelError(f"relevance model {source}: expected a JSON object")
    try:
        model = RelevanceModel.from_dict(data)
        raw = data.get("fusion_weights")
        if raw is not None:
            model = replace(model, fusion_weights=weights_from_dict(raw, "fusion_weights"))
    except ValueError as exc:
        raise RelevanceModelError(f"relevance model {source}: {exc}") from exc
    return model


def save_relevance_model(model: RelevanceModel, path: Path | str) -> Path:
    """Write the model (and the fusion weights tuned for it, if any) as one JSON file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = model.to_dict()
    if model.fusion_weights is not None:
        data["fusion_weights"] = weights_to_dict(model.fusion_weights)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    tmp.replace(target)
    return target
