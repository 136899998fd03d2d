"""How good a fusion's accuracy–diversity frontier is against the baselines, as one number.

``divrank tune --mode direct`` maximises it on validation lists. Every baseline point (MMR,
DPP, pyversity's strategies... swept on the same lists) is a bar to clear: at that point's
NDCG@10, the best ILD@10 and brand/category coverage@10 our curve reaches (the upper Pareto
frontier, interpolated, as in the report's frontier check) minus the baseline's, each divided
by the relevance-only reference's value. The score is the mean margin (ILD counts 1, each
coverage 0.5) minus ``shortfall_penalty`` times the mean ILD shortfall, plus the issue-5
target score at our best point keeping 97% of the reference NDCG.
"""

from __future__ import annotations

from collections.abc import Sequence

from evaluation.report import LEARNED_NDCG, best_x_at, learned_operating_point, upper_frontier
from evaluation.results import SweepPoint

__all__ = ["AXES", "frontier_score", "learned_target_score", "target_score"]

AXES = (("ild@10", 1.0), ("brand_cov@10", 0.5), ("cat_cov@10", 0.5))
NDCG_SHARE, ILD_GAIN, COVERAGE_GAIN = 0.97, 0.30, 0.40


def target_score(ours: Sequence[SweepPoint], reference: SweepPoint) -> float:
    """max over our points with NDCG >= 97% of the reference of min(ILD gain / 30%, coverage
    gains / 40%): >= 1 means the issue-5 targets are met (0 when no point keeps 97%)."""
    r = reference.metrics
    best = 0.0
    for p in ours:
        m = p.metrics
        if m["ndcg@10"] < NDCG_SHARE * r["ndcg@10"]:
            continue
        gains = (
            (m["ild@10"] / r["ild@10"] - 1) / ILD_GAIN,
            (m["brand_cov@10"] / r["brand_cov@10"] - 1) / COVERAGE_GAIN,
            (m["cat_cov@10"] / r["cat_cov@10"] - 1) / COVERAGE_GAIN,
        )
        best = max(best, min(gains))
    return best


def learned_target_score(ours: Sequence[SweepPoint], engine: SweepPoint) -> float:
    """The learned relevance targets (``report.relevance_section``): max over our points with
    NDCG >= 1.05x engine order of min(ILD gain / 25%, brand coverage gain / 35%); >= 1 means
    met. Without such a point, how far the most relevant one falls short (negative), so the
    search still has a slope to climb."""
    best = learned_operating_point(ours, engine)
    if best is None:
        return max(p.metrics["ndcg@10"] / engine.metrics["ndcg@10"] for p in ours) - LEARNED_NDCG
    return best[0]


def frontier_score(
    ours: Sequence[SweepPoint],
    baselines: Sequence[SweepPoint],
    reference: SweepPoint,
    shortfall_penalty: float = 4.0,
) -> float:
    """Mean weighted margin of our frontier over every baseline point (see the module doc)."""
    if not ours or not baselines:
        raise ValueError("frontier_score needs our points and baseline points")
    fronts = {x: upper_frontier(ours, x) for x, _ in AXES}
    margin = shortfall = 0.0
    for b in baselines:
        for x, weight in AXES:
            ref = reference.metrics[x] or 1.0
            best = best_x_at(fronts[x], b.metrics["ndcg@10"])
            # a point more relevant than any of ours counts as a full miss
            gap = (-b.metrics[x] if best is None else best - b.metrics[x]) / ref
            margin += weight * gap
            if x == "ild@10":
                shortfall += max(0.0, -gap)
    count = len(baselines)
    return (margin - shortfall_penalty * shortfall) / count + target_score(ours, reference)
