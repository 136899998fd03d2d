"""Training lists: each episode's page under the current weights, replayed into step features.

The trainer is listwise over the greedy selection: at every step of the page it sees the
features of all remaining candidates given what is already selected (``rollout_features``
from the core, the very features served), and learns which candidate should come next. The
pages come from the current weights (on-policy) at a knob drawn per episode, so the model is
trained on the states it will actually visit, across the whole knob range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from evaluation.strategies import RerankContext
from reranker.core import rerank
from reranker.core.features import FEATURE_NAMES
from reranker.core.rollout import rollout_features
from reranker.core.types import Knobs
from reranker.core.weights import FusionWeights

__all__ = ["RolloutBatch", "build_rollouts", "relevance_targets"]

PAGE = 10


@dataclass(frozen=True)
class RolloutBatch:
    """Padded arrays for B lists of at most N candidates and T steps (numpy, to torch later)."""

    features: npt.NDArray[np.float32]  # (B, T, N, F)
    available: npt.NDArray[np.bool_]  # (B, T, N): not yet picked and not padding
    target: npt.NDArray[np.float32]  # (B, N): relevance target mass (0 = not relevant)
    judged: npt.NDArray[np.bool_]  # (B, N): has a judgment (all True without shallow labels)
    diversity: npt.NDArray[np.float32]  # (B,)
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def __len__(self) -> int:
        return int(self.features.shape[0])


def relevance_targets(
    ctx: RerankContext, shallow: bool
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Gain -> target mass ``2^g - 1`` per candidate, and which candidates are judged.

    With shallow judgments an unjudged candidate is unknown: it is left out of the relevance
    loss (condensed list) instead of being taught as irrelevant.
    """
    ids = ctx.candidates.ids
    judgments = ctx.episode.judgments
    gains = np.array([judgments.get(i, 0) for i in ids], dtype=np.float32)
    judged = np.array([i in judgments for i in ids]) if shallow else np.ones(len(ids), bool)
    return np.exp2(gains) - 1.0, judged


def build_rollouts(
    contexts: Sequence[RerankContext],
    weights: FusionWeights,
    diversities: Sequence[float],
    shallow: bool,
) -> RolloutBatch:
    """One rollout per context at its knob, with the pages the given weights select."""
    if len(contexts) != len(diversities):
        raise ValueError(f"{len(contexts)} lists but {len(diversities)} knob values")
    n_max = max((len(c.candidates) for c in contexts), default=0)
    steps = min(PAGE, n_max)
    b, f = len(contexts), len(FEATURE_NAMES)
    features = np.zeros((b, steps, n_max, f), dtype=np.float32)
    available = np.zeros((b, steps, n_max), dtype=bool)
    target = np.zeros((b, n_max), dtype=np.float32)
    judged = np.zeros((b, n_max), dtype=bool)
    for i, (ctx, d) in enumerate(zip(contexts, diversities, strict=True)):
        knobs = Knobs(diversity=float(d), strategy="fusion")
        n = len(ctx.candidates)
        k = min(steps, n)
        page = rerank(ctx.candidates, k, knobs, user=ctx.user, weights=weights).order
        roll = rollout_features(ctx.candidates, [int(j) for j in page], knobs, user=ctx.user)
        features[i, :k, :n] = roll.features
        available[i, :k, :n] = roll.available
        target[i, :n], judged[i, :n] = relevance_targets(ctx, shallow)
    return RolloutBatch(features, available, target, judged,
                        np.asarray(diversities, dtype=np.float32))  # fmt: skip
