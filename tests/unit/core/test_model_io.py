"""Fusion weights on disk: safetensors + JSON, matched by feature name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from reranker.core import DEFAULT_WEIGHTS, FEATURE_NAMES, FusionWeights
from reranker.model_io import load_weights, metadata_path, save_weights


def test_roundtrip(tmp_path: Path) -> None:
    path = save_weights(DEFAULT_WEIGHTS, tmp_path / "w" / "fusion.safetensors")
    meta = json.loads(metadata_path(path).read_text())
    assert meta["feature_names"] == list(DEFAULT_WEIGHTS.names)
    assert meta["version"] == DEFAULT_WEIGHTS.version
    loaded = load_weights(path)
    assert loaded.version == DEFAULT_WEIGHTS.version
    for d in (0.0, 0.3, 1.0):
        np.testing.assert_array_equal(loaded.effective(d), DEFAULT_WEIGHTS.effective(d))
    assert loaded.notes == ()


def test_matched_by_name_not_position(tmp_path: Path) -> None:
    """Another dataset's model: reordered names, one unknown, most missing."""
    weights = FusionWeights(
        ("redundancy", "bogus_feature", "relevance"),
        np.array([-0.5, 9.0, 2.0], dtype=np.float32),
        np.zeros(3, dtype=np.float32),
        version="other-dataset",
    )
    loaded = load_weights(save_weights(weights, tmp_path / "m.safetensors"))
    effective = dict(zip(FEATURE_NAMES, loaded.effective(0.0).tolist(), strict=True))
    assert effective["relevance"] == 2.0 and effective["redundancy"] == -0.5
    assert effective["interest_sim"] == 0.0
    assert any("bogus_feature" in note for note in loaded.notes)
    assert any("missing" in note or "no weights" in note for note in loaded.notes)


def test_header_metadata_alone_is_enough(tmp_path: Path) -> None:
    path = save_weights(DEFAULT_WEIGHTS, tmp_path / "w.safetensors")
    metadata_path(path).unlink()
    np.testing.assert_array_equal(load_weights(path).effective(0.5), DEFAULT_WEIGHTS.effective(0.5))


def test_bad_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "absent.safetensors")
    path = save_weights(DEFAULT_WEIGHTS, tmp_path / "w.safetensors")
    metadata_path(path).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_weights(path)
    metadata_path(path).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="format"):
        load_weights(path)
    short = tmp_path / "short.safetensors"
    save_file({"values": np.zeros(2, np.float32)}, str(short))
    metadata_path(short).write_text(
        json.dumps(
            {
                "format": "divrank-fusion-weights",
                "format_version": 1,
                "feature_names": ["relevance", "redundancy"],
            }
        )
    )
    with pytest.raises(ValueError, match="diversity_slope"):
        load_weights(short)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 16)
    metadata_path(garbage).write_text(json.dumps(json.loads(metadata_path(short).read_text())))
    with pytest.raises(ValueError, match="safetensors"):
        load_weights(garbage)


def test_weights_reject_non_finite_and_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="NaN"):
        FusionWeights(("relevance",), np.array([np.nan], np.float32), np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="entries"):
        FusionWeights(("relevance", "redundancy"), np.ones(1, np.float32), np.zeros(2, np.float32))


def test_pickle_is_never_used(tmp_path: Path) -> None:
    path = save_weights(DEFAULT_WEIGHTS, tmp_path / "w.safetensors")
    assert path.read_bytes()[8:9] == b"{"  # a safetensors JSON header, not a pickle stream


def test_json_weights_roundtrip_with_metadata(tmp_path: Path) -> None:
    """The small committed form: one JSON with the numbers inline, plus how they were made."""
    path = save_weights(DEFAULT_WEIGHTS, tmp_path / "fusion.json", metadata={"seed": 3})
    raw = json.loads(path.read_text())
    assert raw["metadata"] == {"seed": 3} and len(raw["values"]) == len(DEFAULT_WEIGHTS.names)
    loaded = load_weights(path)
    for d in (0.0, 0.5, 1.0):
        np.testing.assert_array_equal(loaded.effective(d), DEFAULT_WEIGHTS.effective(d))
    raw["values"][0] = "heavy"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="'values' must be a list of numbers"):
        load_weights(path)


def test_safetensors_metadata_is_kept(tmp_path: Path) -> None:
    path = save_weights(DEFAULT_WEIGHTS, tmp_path / "w.safetensors", metadata={"best_epoch": 2})
    assert json.loads(metadata_path(path).read_text())["metadata"] == {"best_epoch": 2}
