"""The orderings compared by ``divrank eval``, selected by name from one registry.

Our own strategies all go through ``reranker.core.rerank`` (the code the sidecar runs);
pyversity and OpenSearch's native MMR are outside references run on the very same
candidates. A strategy maps (episode context, k, diversity) to candidate positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from evaluation.episodes import Episode
from reranker.core import QueryIntent, rerank
from reranker.core.types import Candidates, Knobs, UserProfile
from reranker.core.weights import FusionWeights

__all__ = [
    "BuyAgainStrategy",
    "CoreStrategy",
    "PyversityStrategy",
    "RerankContext",
    "Strategy",
    "minmax",
]

IntArray = npt.NDArray[np.int64]


def minmax(scores: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Scores to [0, 1] per request (NaN -> 0), for references that take raw relevance."""
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    finite = np.isfinite(s)
    if not finite.any():
        return np.zeros_like(s)
    lo, hi = s[finite].min(), s[finite].max()
    out = np.where(finite, (s - lo) / (hi - lo) if hi > lo else 1.0, 0.0)
    return out


@dataclass(frozen=True)
class RerankContext:
    """One episode in the core's terms, built once and reused by every strategy and knob."""

    episode: Episode
    candidates: Candidates
    user: UserProfile | None
    relevance: npt.NDArray[np.float64]  # min-max engine scores, for outside references
    intent: QueryIntent = field(default_factory=QueryIntent)  # names in the query: caps yield
    learned: Candidates | None = None  # the same window with the relevance model's scores


class Strategy(Protocol):
    name: str
    knob_sensitive: bool  # False: one point (engine order), not a curve

    def __call__(self, ctx: RerankContext, k: int, diversity: float) -> IntArray: ...


@dataclass(frozen=True)
class CoreStrategy:
    """A strategy of the ranking core, optionally with learned fusion weights."""

    name: str
    core_strategy: str
    knob_sensitive: bool = True
    weights: FusionWeights | None = None  # None = the core's defaults
    knob_overrides: dict[str, object] = field(default_factory=dict)
    learned_relevance: bool = False  # rank by the relevance model's scores, not the engine's

    def __call__(self, ctx: RerankContext, k: int, diversity: float) -> IntArray:
        candidates = ctx.candidates
        if self.learned_relevance:
            if ctx.learned is None:
                raise ValueError(f"{self.name} needs the relevance model's scores: build the "
                                 "contexts with a relevance model")  # fmt: skip
            candidates = ctx.learned
        knobs = Knobs(
            diversity=diversity,
            strategy=self.core_strategy,
            query_brands=ctx.intent.brands,
            query_categories=ctx.intent.categories,
            **self.knob_overrides,  # type: ignore[arg-type]
        )
        ranking = rerank(candidates, k, knobs, user=ctx.user, weights=self.weights)
        return np.asarray(ranking.order, dtype=np.int64)


@dataclass(frozen=True)
class BuyAgainStrategy:
    """The simplest item-level baseline a replay must beat: what the user had before first
    (most often had first, ties in engine order), then the rest in engine order."""

    name: str = "buy-again"
    knob_sensitive: bool = False

    def __call__(self, ctx: RerankContext, k: int, diversity: float) -> IntArray:
        items = ctx.episode.items
        rows, counts = np.unique(ctx.episode.history, return_counts=True)
        had = dict(zip(rows.tolist(), counts.tolist(), strict=True))
        times = np.array([had.get(int(r), 0) for r in items], dtype=np.int64)
        order = np.lexsort((np.arange(len(items)), -times))  # by count, then engine position
        return order[:k].astype(np.int64)


@dataclass(frozen=True)
class PyversityStrategy:
    """pyversity 0.2 (``diversify``) on the episode's embeddings and min-max relevance."""

    name: str
    pyversity_strategy: str
    knob_sensitive: bool = True

    def __call__(self, ctx: RerankContext, k: int, diversity: float) -> IntArray:
        from pyversity import diversify

        emb = ctx.candidates.embeddings
        if emb is None:
            raise ValueError(f"{self.name} needs embeddings and episode {ctx.episode.qid} has none")
        result = diversify(
            emb, ctx.relevance, k=min(k, len(ctx.candidates)),
            strategy=self.pyversity_strategy, diversity=float(diversity),
        )  # fmt: skip
        return np.asarray(result.indices, dtype=np.int64)

