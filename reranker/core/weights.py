"""Fusion weights: one linear weight per feature, moved by the diversity knob.

The weight of feature f at knob d is ``values[f] + g(d)·diversity_slope[f]`` with
``g = knob.fusion_knob`` (d^1.5: more of the knob's travel where relevance is high):
``values`` are the weights at d = 0 (relevance and personalisation only),
``values + diversity_slope`` those at d = 1. Both vectors are learned by the trainer or
tuned (``reranker/model_io.py`` stores them as safetensors or one small JSON, with the
feature names in JSON) and matched to ``FEATURE_NAMES`` by name, so
weights trained where some feature did not exist still load: unknown names are ignored and
missing ones weigh 0, each with a note in ``notes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from reranker.core.features import FEATURE_NAMES, STATIC_FEATURES
from reranker.core.knob import fusion_knob
from reranker.core.types import FloatArray

__all__ = ["DEFAULT_WEIGHTS", "FusionWeights"]


@dataclass(frozen=True)
class FusionWeights:
    """Named fusion weights; ``effective(d)`` gives them in ``FEATURE_NAMES`` order."""

    names: tuple[str, ...]
    values: FloatArray  # (len(names),) weights at diversity 0
    diversity_slope: FloatArray  # (len(names),) added per unit of diversity
    version: str = "unversioned"
    notes: tuple[str, ...] = field(default=(), compare=False)
    # (knob asked for, knob applied) points, fitted on validation so that every step of the
    # asked knob costs the fusion the same NDCG; () = the knob as given. Applied by ``rerank``
    # to the fusion strategy only. See ``applied_diversity``.
    knob_curve: tuple[tuple[float, float], ...] = ()
    _canonical: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "knob_curve", _checked_curve(self.knob_curve))
        names = tuple(self.names)
        values = np.asarray(self.values, dtype=np.float32).reshape(-1)
        slope = np.asarray(self.diversity_slope, dtype=np.float32).reshape(-1)
        if len(set(names)) != len(names):
            raise ValueError(f"fusion weight names are not unique: {names}")
        for label, arr in (("values", values), ("diversity_slope", slope)):
            if arr.shape != (len(names),):
                raise ValueError(
                    f"fusion weights {label} has {arr.shape[0]} entries for {len(names)} names"
                )
            if not np.isfinite(arr).all():
                raise ValueError(f"fusion weights {label} contain NaN or infinity")
        index = {name: i for i, name in enumerate(names)}
        canonical = np.zeros((2, len(FEATURE_NAMES)), dtype=np.float32)
        for f, name in enumerate(FEATURE_NAMES):
            if name in index:
                canonical[0, f] = values[index[name]]
                canonical[1, f] = slope[index[name]]
        notes = list(self.notes)
        unknown = [name for name in names if name not in FEATURE_NAMES]
        missing = [name for name in FEATURE_NAMES if name not in index]
        if unknown:
            notes.append(f"ignored weights for unknown features: {', '.join(unknown)}")
        if missing:
            notes.append(f"no weights for features {', '.join(missing)}: they weigh 0")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "diversity_slope", slope)
        object.__setattr__(self, "notes", tuple(dict.fromkeys(notes)))
        object.__setattr__(self, "_canonical", canonical)

    @classmethod
    def from_mapping(
        cls,
        values: Mapping[str, float],
        diversity_slope: Mapping[str, float] | None = None,
        version: str = "unversioned",
    ) -> FusionWeights:
        """Build from ``{feature: weight}`` dicts (slope defaults to 0 for every name)."""
        slope_map = diversity_slope or {}
        names = tuple(dict.fromkeys([*values, *slope_map]))
        return cls(
            names,
            np.array([values.get(n, 0.0) for n in names], dtype=np.float32),
            np.array([slope_map.get(n, 0.0) for n in names], dtype=np.float32),
            version,
        )

    def without(self, names: tuple[str, ...], version: str) -> FusionWeights:
        """These weights with ``names`` weighing 0 (an ablation row of the evaluation)."""
        keep = np.array([n not in names for n in self.names], dtype=np.float32)
        return FusionWeights(self.names, self.values * keep, self.diversity_slope * keep, version,
                             knob_curve=self.knob_curve)  # fmt: skip

    def applied_diversity(self, asked: float) -> float:
        """The knob the ranking runs at for the knob a request asked for (piecewise linear
        through ``knob_curve``; the identity without one)."""
        if not self.knob_curve:
            return float(asked)
        xs, ys = zip(*self.knob_curve, strict=True)
        return float(np.interp(float(asked), xs, ys))

    def effective(self, diversity: float) -> FloatArray:
        """Weights at knob ``diversity``, in ``FEATURE_NAMES`` order (a fresh array)."""
        out = self._canonical[1] * np.float32(fusion_knob(float(diversity)))
        out += self._canonical[0]
        return out

    def static_only(self, diversity: float) -> FloatArray:
        """``effective`` with the per-step features zeroed (relevance + personalisation)."""
        out = self.effective(diversity)
        out[len(STATIC_FEATURES) :] = 0.0
        return out


def _checked_curve(points: object) -> tuple[tuple[float, float], ...]:
    """A knob curve: from (0, 0) to (1, y), asked knobs rising, applied knobs in [0, 1] never
    falling (more diversity asked never gives less)."""
    curve = tuple((float(a), float(b)) for a, b in points)  # type: ignore[attr-defined]
    if not curve:
        return ()
    asked = [a for a, _ in curve]
    applied = [b for _, b in curve]
    if asked[0] != 0.0 or asked[-1] != 1.0 or any(b <= a for a, b in pairwise(asked)):
        raise ValueError(f"knob_curve must rise from asked knob 0 to 1, got {asked}")
    falls = any(b < a for a, b in pairwise(applied))
    if applied[0] != 0.0 or falls or any(not 0.0 <= b <= 1.0 for b in applied):
        raise ValueError(f"knob_curve's applied knobs must start at 0, never fall: {applied}")
    return curve


# At d = 0 only relevance and personalisation count (every per-step feature weighs 0 there),
# so without a user the engine order comes back exactly. The diversity slopes are tuned on the
# Home Depot validation split with the near-duplicate ramp of knob.py, reproducible with
#   divrank tune --mode direct --retrieval bm25,knn,hybrid --valid-limit 300 --trials 40 --seed 0
# (rounded to 3 decimals; the same values as reranker/models/homedepot-tuned.json). The MSD
# similarity sum carries most of the diversity; label novelty, MMR redundancy, brand pressure
# and DPP gain refine it; relevance keeps 0.22 at d = 1 so the knob sweeps the whole useful
# range. Personalisation, calibration and over-personalisation weights are set by hand: Home
# Depot has no users to tune them on. The item prior and item memory were chosen on the
# validation users of MovieLens-as-search (`divrank eval --catalog --events`, a grid over
# popularity 0-4 and the seen penalty): popularity 2 gives 3.4x engine NDCG there. The repeat
# weight was chosen with the gates of features.py on the validation users of a simulated
# grocery log, a shop that rebuys on some shelves and explores on others, and MovieLens
# together (flat from 12 to 16): one fresh purchase of a staple (affinity 0.22) outweighs
# the popularity prior, and a seen item of an explorer sinks.
DEFAULT_WEIGHTS = FusionWeights.from_mapping(
    {
        "relevance": 1.0,
        "interest_sim": 0.35,
        "category_affinity": 0.15,
        "brand_affinity": 0.1,
        "centroid_sim": 0.0,
        "centroid_excess": 0.0,
        "repeat_affinity": 12.0,
        "seen_by_explorer": -1.5,
        "popularity": 2.0,
        "redundancy": 0.0,
        "similarity_sum": 0.0,
        "dpp_gain": 0.0,
        "near_duplicate": 0.0,
        "brand_pressure": 0.0,
        "category_pressure": 0.0,
        "calibration": 0.0,
        "brand_novelty": 0.0,
        "category_novelty": 0.0,
    },
    {
        "relevance": 0.222 - 1.0,
        "interest_sim": -0.15,
        "category_affinity": -0.05,
        "brand_affinity": -0.05,
        "centroid_excess": -0.3,
        "redundancy": -0.257,
        "similarity_sum": -0.544,
        "dpp_gain": 0.066,
        "near_duplicate": -1.0,
        "brand_pressure": -0.181,
        "category_pressure": -0.068,
        "calibration": 0.1,
        "brand_novelty": 0.196,
        "category_novelty": 0.366,
    },
    version="default-3",
)
