"""What one greedy selection produced, and the per-step record that explanations are built from.

Every greedy strategy (personalized, MMR, DPP, fusion) picks one item per step as the argmax of
its step scores plus constraint penalties. ``Trace`` keeps what each pick was made of: the
score's parts (they add up to the score), the constraints relaxed to place it, and the better
candidate a cap or near-duplicate rule held back, if any. It costs nothing unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reranker.core.caps import HomogeneityConstraints
from reranker.core.types import FloatArray, IntArray

__all__ = ["Displaced", "GreedyResult", "Trace"]


@dataclass(frozen=True)
class Displaced:
    """A candidate that scored higher at this step but was held back by ``reasons``."""

    index: int
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class GreedyResult:
    """Selected indices in page order, each one's score at selection, and its explanation."""

    order: IntArray
    scores: FloatArray
    part_names: tuple[str, ...] = ()
    parts: FloatArray | None = None  # (k, len(part_names)), rows add up to ``scores``
    relaxed: tuple[tuple[str, ...], ...] | None = None
    displaced: tuple[Displaced | None, ...] | None = None


class Trace:
    """Collects picks; with ``explain`` also their parts and constraint decisions."""

    def __init__(self, k: int, part_names: tuple[str, ...], explain: bool) -> None:
        self.order = np.empty(k, dtype=np.int32)
        self.scores = np.empty(k, dtype=np.float32)
        self.part_names = part_names
        self.explain = explain
        self.parts = np.zeros((k, len(part_names)), dtype=np.float32) if explain else None
        self.relaxed: list[tuple[str, ...]] = []
        self.displaced: list[Displaced | None] = []

    def pick(
        self,
        t: int,
        j: int,
        score: float,
        raw: FloatArray,
        constraints: HomogeneityConstraints,
        max_similarity: FloatArray | None,
    ) -> None:
        """Record pick ``j`` at step ``t``; ``raw`` are the step scores before penalties."""
        self.order[t] = j
        self.scores[t] = score
        if not self.explain:
            return
        sim_j = None if max_similarity is None else float(max_similarity[j])
        self.relaxed.append(tuple(constraints.violations(j, sim_j)))
        unconstrained = raw.copy()
        unconstrained[constraints.selected] = -np.inf
        best = int(np.argmax(unconstrained))
        if best != j:
            sim_b = None if max_similarity is None else float(max_similarity[best])
            self.displaced.append(
                Displaced(best, float(raw[best]), tuple(constraints.violations(best, sim_b)))
            )
        else:
            self.displaced.append(None)

    def result(self) -> GreedyResult:
        if not self.explain:
            return GreedyResult(self.order, self.scores)
        return GreedyResult(
            self.order,
            self.scores,
            self.part_names,
            self.parts,
            tuple(self.relaxed),
            tuple(self.displaced),
        )
