"""Replaying a page feature by feature: what a listwise trainer consumes.

``rollout_features`` walks a given order (a logged page or a greedy result) through the same
compiled step as serving, recording the feature matrix seen before each pick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reranker.core.features import FEATURE_NAMES
from reranker.core.request import prepare
from reranker.core.selection_state import SelectionState
from reranker.core.types import Candidates, FloatArray, Knobs, UserProfile

__all__ = ["Rollout", "rollout_features"]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Rollout:
    """Features before each pick of a given page.

    ``features[t]`` is the (n, F) matrix seen at step t, ``available[t]`` marks candidates not
    yet on the page, ``order[t]`` is the pick made at step t.
    """

    features: FloatArray  # (T, n, F)
    available: BoolArray  # (T, n)
    order: Sequence[int]
    feature_names: tuple[str, ...] = FEATURE_NAMES


def rollout_features(
    candidates: Candidates,
    order: Sequence[int],
    knobs: Knobs,
    user: UserProfile | None = None,
) -> Rollout:
    """Replay ``order`` and record every step's features.

    ``knobs`` matter for caps (pressure denominators), the duplicate threshold and the DPP
    window; the features do not depend on the fusion weights.
    """
    request = prepare(candidates, max(len(order), 1), knobs, user)
    n = request.n
    if len(set(order)) != len(order) or any(not 0 <= int(j) < n for j in order):
        raise ValueError(f"order must list distinct candidate indices in [0, {n})")
    state = SelectionState(request)
    steps = len(order)
    features = np.empty((steps, n, len(FEATURE_NAMES)), dtype=np.float32)
    available = np.ones((steps, n), dtype=bool)
    for t, j in enumerate(order):
        features[t] = state.matrix
        if t:
            available[t] = available[t - 1]
            available[t, order[t - 1]] = False
        state.select(int(j))
    return Rollout(features, available, list(order))
