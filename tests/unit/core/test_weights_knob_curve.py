"""The knob curve of fusion weights: the knob asked for, mapped to the knob the fusion runs at."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from reranker.core import Knobs, rerank
from reranker.core.weights import DEFAULT_WEIGHTS, FusionWeights
from reranker.model_io import load_weights, save_weights

from .conftest import clustered

CURVE = ((0.0, 0.0), (0.5, 0.2), (1.0, 0.9))


def _curved() -> FusionWeights:
    return replace(DEFAULT_WEIGHTS, knob_curve=CURVE)


def test_applied_diversity_interpolates_the_curve() -> None:
    w = _curved()
    assert w.applied_diversity(0.0) == 0.0
    assert w.applied_diversity(0.25) == pytest.approx(0.1)
    assert w.applied_diversity(0.75) == pytest.approx(0.55)
    assert w.applied_diversity(1.0) == pytest.approx(0.9)
    assert DEFAULT_WEIGHTS.applied_diversity(0.3) == 0.3  # no curve: the knob as asked


def test_rerank_runs_at_the_applied_knob() -> None:
    c = clustered(100, seed=3)
    for asked in (0.25, 0.5, 1.0):
        curved = rerank(c, 10, Knobs(diversity=asked), None, _curved())
        direct = rerank(c, 10, Knobs(diversity=_curved().applied_diversity(asked)), None,
                        DEFAULT_WEIGHTS)  # fmt: skip
        assert list(curved.order) == list(direct.order)
    for strategy in ("mmr", "dpp"):  # the curve was fitted on the fusion: others keep the knob
        knobs = Knobs(diversity=0.5, strategy=strategy)
        assert list(rerank(c, 10, knobs, None, _curved()).order) == list(
            rerank(c, 10, knobs, None, DEFAULT_WEIGHTS).order)
    plain = rerank(c, 10, Knobs(diversity=1.0), None, DEFAULT_WEIGHTS)
    assert list(rerank(c, 10, Knobs(diversity=1.0), None, _curved()).order) != list(plain.order)


@pytest.mark.parametrize(
    "curve",
    [((0.0, 0.0), (1.0, 1.2)), ((0.0, 0.1), (1.0, 1.0)), ((0.0, 0.0), (0.5, 0.6), (1.0, 0.4)),
     ((0.0, 0.0), (0.8, 0.5)), ((0.0, 0.0), (0.5, 0.2), (0.5, 0.3), (1.0, 1.0))],
)  # fmt: skip
def test_bad_curves_are_refused(curve: tuple[tuple[float, float], ...]) -> None:
    with pytest.raises(ValueError, match="knob_curve"):
        replace(DEFAULT_WEIGHTS, knob_curve=curve)


@pytest.mark.parametrize("suffix", [".json", ".safetensors"])
def test_the_curve_survives_a_save(tmp_path: Path, suffix: str) -> None:
    path = save_weights(_curved(), tmp_path / f"w{suffix}")
    assert load_weights(path).knob_curve == CURVE


def test_a_bad_curve_on_disk_names_the_file(tmp_path: Path) -> None:
    path = save_weights(_curved(), tmp_path / "w.json")
    data = json.loads(path.read_text())
    data["knob_curve"] = [[0, 0], [1, 2]]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"w\.json.*knob_curve"):
        load_weights(path)
