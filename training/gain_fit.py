"""``divrank fit-gain``: how sharply the fusion reads the relevance model's scores, and the knob
curve that goes with it, both fitted on validation.

The fusion adds relevance to diversity terms, so the map from the model's scores to relevance
decides which swaps diversity can afford. ``normalize.learned_gains`` curves the min-max scores
with a temperature ``T``; each candidate ``T`` is scored by the learned relevance targets
(``frontier.learned_target_score``: at >= 1.05x engine NDCG, how far ILD and brand coverage
get toward their targets), averaged over the candidate sets. At the chosen ``T`` the fusion is
swept over the fine knob grid and the knob curve is refitted, since a sharper curve moves
where the knob spends its relevance. The test split is never read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from evaluation.episodes import ItemTable
from evaluation.page_metrics import EpisodeContext
from evaluation.strategies import CoreStrategy, RerankContext
from evaluation.sweep import sweep
from reranker.core.normalize import learned_gains
from reranker.core.weights import FusionWeights
from training.frontier import learned_target_score
from training.knob_curve import fit_knob_curve, pooled_curve

__all__ = ["CURVE_KNOBS", "GainFit", "fit_gain", "with_temperature"]

CURVE_KNOBS = tuple(round(i / 20, 2) for i in range(21))
# where the learned targets' operating points lie; the score is a max over these
SCORE_KNOBS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)

ValidationSet = tuple[Sequence[RerankContext], Sequence[EpisodeContext], ItemTable]


@dataclass(frozen=True)
class GainFit:
    temperature: float
    scores: dict[float, float]  # temperature -> mean learned-target score on validation
    knob_curve: tuple[tuple[float, float], ...]


def with_temperature(lists: Sequence[RerankContext], temperature: float) -> list[RerankContext]:
    """The lists with their learned scores curved at ``temperature`` (they must hold the
    model's min-max scores, i.e. be built with the model at temperature 0)."""
    out = []
    for ctx in lists:
        if ctx.learned is None or ctx.learned.relevance is None:
            raise ValueError(f"list {ctx.episode.qid} carries no relevance model scores")
        scores = learned_gains(ctx.learned.relevance, temperature)
        out.append(replace(ctx, learned=replace(ctx.learned, relevance=scores)))
    return out


def fit_gain(
    sets: Sequence[ValidationSet],
    weights: FusionWeights,
    temperatures: Sequence[float],
    *,
    steps: int = 20,
    say: Callable[[str], None] = lambda _: None,
) -> GainFit:
    """Pick the temperature with the best mean learned-target score over ``sets`` (ties: the
    first, so list them gentlest first), then fit the knob curve there."""
    if not sets or not all(lists for lists, _, _ in sets):
        raise ValueError("fitting the gain needs validation lists")
    if not temperatures:
        raise ValueError("give at least one temperature")
    flat = replace(weights, knob_curve=())  # the curve is refitted for the chosen temperature
    fusion = CoreStrategy("fusion-relevance", "fusion", weights=flat, learned_relevance=True)
    engine = CoreStrategy("engine", "engine", knob_sensitive=False)
    engines = [sweep(lists, m, table, [engine], (0.0,), False)[0] for lists, m, table in sets]
    scores: dict[float, float] = {}
    for t in temperatures:
        per_set = []
        for (lists, metrics, table), engine_point in zip(sets, engines, strict=True):
            points = sweep(with_temperature(lists, t), metrics, table, [fusion], SCORE_KNOBS,
                           progress=False)  # fmt: skip
            per_set.append(learned_target_score(points, engine_point))
        scores[float(t)] = float(np.mean(per_set))
        say(f"temperature {t:g}: {scores[float(t)]:.4f} ({', '.join(f'{s:.3f}' for s in per_set)})")
    best = max(scores, key=scores.__getitem__)  # max keeps the first of equal scores
    curves = []
    for lists, metrics, table in sets:
        points = sweep(with_temperature(lists, best), metrics, table, [fusion], CURVE_KNOBS,
                       progress=False)  # fmt: skip
        curves.append([p.metrics["ndcg@10"] for p in points])
    curve = fit_knob_curve(CURVE_KNOBS, pooled_curve(curves), steps)
    return GainFit(best, scores, curve)
