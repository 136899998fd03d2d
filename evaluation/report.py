"""The accuracy-diversity report: a markdown table, the target check and the frontier plot.

Operating points are chosen on the validation episodes and read off the test episodes, so the
target check is not tuned on the test split.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.results import SweepPoint

__all__ = [
    "RELEVANCE_ONLY",
    "FrontierGap",
    "TargetCheck",
    "best_x_at",
    "check_targets",
    "frontier_gaps",
    "learned_operating_point",
    "relevance_section",
    "upper_frontier",
    "write_markdown",
    "write_plot",
]

RELEVANCE_ONLY = ("engine", "personalized")
FIXED_ORDERS = ("relevance", "buy-again", "interests-only")  # reported, never knob-tuned
PIPELINE_ROW = "pipeline"  # `divrank eval --pipeline`: the same queries through the plugin
NDCG_SHARE, ILD_GAIN, COVERAGE_GAIN = 0.97, 0.30, 0.40
COLUMNS = (
    ("ndcg@10", "NDCG@10"),
    ("ndcg_judged@10", "NDCG judged@10"),
    ("judged@10", "judged@10"),
    ("recall@10", "R@10"),
    ("mrr@10", "MRR"),
    ("ild@10", "ILD@10"),
    ("brand_cov@10", "brand cov"),
    ("cat_cov@10", "cat cov"),
    ("cat_entropy@10", "cat H"),
    ("cat_gini@10", "cat Gini"),
    ("calib_kl@10", "calib KL"),
    ("novelty@10", "novelty"),
    ("overpers@10", "overpers"),
    ("topcat_share@10", "top-cat share"),
    ("hist_novelty@10", "hist novelty"),
    ("repeat_share@10", "had before"),
)
# per-user columns shown only when some point has them (sets with users)
USER_COLUMNS = frozenset({"topcat_share@10", "hist_novelty@10", "repeat_share@10"})


@dataclass(frozen=True)
class TargetCheck:
    strategy: str
    diversity: float | None  # chosen on validation; None = no feasible point there
    ndcg_share: float  # test NDCG@10 / reference NDCG@10
    ild_gain: float
    brand_gain: float
    cat_gain: float

    @property
    def met(self) -> bool:
        return (
            self.diversity is not None
            and self.ndcg_share >= NDCG_SHARE
            and self.ild_gain >= ILD_GAIN
            and self.brand_gain >= COVERAGE_GAIN
            and self.cat_gain >= COVERAGE_GAIN
        )


@dataclass(frozen=True)
class FrontierGap:
    baseline: str
    points: int  # baseline points whose NDCG the fusion curve reaches
    below: int  # of those, points where the fusion curve has less ILD
    worst: float  # largest ILD shortfall of the fusion curve (<= 0 means never below)
    unreachable: int  # baseline points more relevant than any fusion point


def _reference(points: Sequence[SweepPoint]) -> SweepPoint:
    candidates = [p for p in points if p.strategy in RELEVANCE_ONLY]
    if not candidates:
        raise ValueError(f"no relevance-only order ({', '.join(RELEVANCE_ONLY)}) in the sweep")
    return max(candidates, key=lambda p: p.metrics["ndcg@10"])


def _gain(value: float, base: float) -> float:
    return (value - base) / base if base > 0 else math.inf if value > 0 else 0.0


def _gains(point: SweepPoint, ref: SweepPoint) -> tuple[float, float, float, float]:
    m, r = point.metrics, ref.metrics
    return (
        m["ndcg@10"] / r["ndcg@10"] if r["ndcg@10"] > 0 else 0.0,
        _gain(m["ild@10"], r["ild@10"]),
        _gain(m["brand_cov@10"], r["brand_cov@10"]),
        _gain(m["cat_cov@10"], r["cat_cov@10"]),
    )


def check_targets(valid: Sequence[SweepPoint], test: Sequence[SweepPoint]) -> list[TargetCheck]:
    """Per strategy: the knob that best meets the targets on validation, measured on test.

    On validation, among points keeping NDCG@10 >= 97% of the best relevance-only order,
    pick the one maximising min(ILD gain / 30%, brand gain / 40%, category gain / 40%).
    """
    ref_valid, ref_test = _reference(valid), _reference(test)
    out = []
    for name in dict.fromkeys(p.strategy for p in test):
        if name in RELEVANCE_ONLY or name in FIXED_ORDERS:
            continue  # a fixed order has no knob to choose
        feasible = []
        for p in (q for q in valid if q.strategy == name):
            share, ild, brand, cat = _gains(p, ref_valid)
            if share >= NDCG_SHARE:
                score = min(ild / ILD_GAIN, brand / COVERAGE_GAIN, cat / COVERAGE_GAIN)
                feasible.append((score, p.diversity))
        if not feasible:
            out.append(TargetCheck(name, None, 0.0, 0.0, 0.0, 0.0))
            continue
        _, knob = max(feasible)
        chosen = [p for p in test if p.strategy == name and p.diversity == knob]
        if not chosen:
            out.append(TargetCheck(name, None, 0.0, 0.0, 0.0, 0.0))
            continue
        out.append(TargetCheck(name, knob, *_gains(chosen[0], ref_test)))
    return out


# the learned relevance issue's targets, against engine order (not the best relevance-only one)
LEARNED_NDCG, LEARNED_ILD, LEARNED_BRAND = 1.05, 0.25, 0.35


def _point(points: Sequence[SweepPoint], name: str, knob: float | None = None) -> SweepPoint | None:
    found = [p for p in points if p.strategy == name and (knob is None or p.diversity == knob)]
    return found[0] if found else None


def learned_operating_point(
    points: Sequence[SweepPoint], engine: SweepPoint
) -> tuple[float, float] | None:
    """(score, knob) of the best point keeping NDCG@10 >= 1.05x ``engine``'s, scored by
    min(ILD gain / 25%, brand coverage gain / 35%) (>= 1: the targets met); None when no point
    keeps it."""
    e = engine.metrics
    feasible = [
        (min(_gain(p.metrics["ild@10"], e["ild@10"]) / LEARNED_ILD,
             _gain(p.metrics["brand_cov@10"], e["brand_cov@10"]) / LEARNED_BRAND), p.diversity)
        for p in points
        if e["ndcg@10"] > 0 and p.metrics["ndcg@10"] >= LEARNED_NDCG * e["ndcg@10"]
    ]  # fmt: skip
    return max(feasible) if feasible else None


def relevance_section(
    valid: Sequence[SweepPoint], test: Sequence[SweepPoint],
    relevance: str = "relevance", fusion: str = "fusion-relevance",
) -> list[str]:  # fmt: skip
    """Markdown lines for the learned relevance rows (none when the sweep has none): the model
    alone against engine order, and the fusion over its scores at the knob chosen on
    validation (NDCG@10 >= 1.05x engine, then the most ILD and brand coverage)."""
    engine_v, engine_t = _point(valid, "engine"), _point(test, "engine")
    alone = _point(test, relevance)
    if engine_v is None or engine_t is None or alone is None:
        return []
    e = engine_t.metrics
    lines = [
        "## Learned relevance (operating point chosen on validation, measured on test)",
        "",
        f"Reference = engine order (NDCG@10 {e['ndcg@10']:.4f}, NDCG judged@10 "
        f"{e['ndcg_judged@10']:.4f}, judged@10 {e['judged@10']:.3f}). Targets: the model alone "
        f"≥ 1.20× engine NDCG@10 on BM25 candidates, ≥ 1.10× on hybrid; the fusion over its "
        f"scores ≥ {LEARNED_NDCG:.2f}× with ILD@10 ≥ +{LEARNED_ILD:.0%} and brand coverage@10 "
        f"≥ +{LEARNED_BRAND:.0%}.",
        "",
        "| row | knob | NDCG@10 × engine | NDCG judged@10 × engine | judged@10 | ILD gain | "
        "brand cov gain | cat cov gain | fusion target met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ]

    def row(name: str, point: SweepPoint, met: str) -> str:
        m = point.metrics
        judged = m["ndcg_judged@10"] / e["ndcg_judged@10"] if e["ndcg_judged@10"] > 0 else 0.0
        return (f"| {name} | {point.diversity:.2f} | {m['ndcg@10'] / e['ndcg@10']:.3f}× | "
                f"{judged:.3f}× | {m['judged@10']:.3f} | "
                f"{_gain(m['ild@10'], e['ild@10']):+.1%} | "
                f"{_gain(m['brand_cov@10'], e['brand_cov@10']):+.1%} | "
                f"{_gain(m['cat_cov@10'], e['cat_cov@10']):+.1%} | {met} |")  # fmt: skip

    lines.append(row(relevance, alone, "–") if e["ndcg@10"] > 0 else "")
    # the live pipeline (`divrank eval --pipeline`) serves the same fusion: its own row, its
    # own operating point on its own validation points
    for name in (fusion, PIPELINE_ROW):
        if name == PIPELINE_ROW and _point(test, name) is None:
            continue
        best = learned_operating_point([q for q in valid if q.strategy == name], engine_v)
        chosen = _point(test, name, best[1]) if best is not None else None
        if chosen is None:
            lines.append(f"| {name} | – | no knob keeps {LEARNED_NDCG:.2f}× engine NDCG on "
                         "validation | | | | | | no |")  # fmt: skip
            continue
        m = chosen.metrics
        met = (m["ndcg@10"] >= LEARNED_NDCG * e["ndcg@10"]
               and _gain(m["ild@10"], e["ild@10"]) >= LEARNED_ILD
               and _gain(m["brand_cov@10"], e["brand_cov@10"]) >= LEARNED_BRAND)  # fmt: skip
        lines.append(row(name, chosen, "yes" if met else "no"))
    steps = knob_steps([q for q in test if q.strategy == fusion])
    if steps:
        lines += ["", f"Knob steps of {fusion} on test (NDCG@10 lost per 0.05 of the knob, as a "
                  f"share of its NDCG@10 at knob 0, over the 0.05-spaced part of the grid): "
                  f"smallest {min(steps):.2%}, median {float(np.median(steps)):.2%}, "
                  f"largest {max(steps):.2%}."]  # fmt: skip
    return lines


def knob_steps(points: Sequence[SweepPoint], spacing: float = 0.05) -> list[float]:
    """NDCG@10 lost over each ``spacing`` step of the knob, relative to knob 0's NDCG@10
    (steps of other widths on the grid are left out)."""
    ordered = sorted(points, key=lambda p: p.diversity)
    if len(ordered) < 2 or ordered[0].diversity != 0.0 or ordered[0].metrics["ndcg@10"] <= 0:
        return []
    base = ordered[0].metrics["ndcg@10"]
    return [(a.metrics["ndcg@10"] - b.metrics["ndcg@10"]) / base
            for a, b in itertools.pairwise(ordered)
            if abs(b.diversity - a.diversity - spacing) < 1e-6]  # fmt: skip


def upper_frontier(points: Sequence[SweepPoint], x: str) -> list[tuple[float, float]]:
    """(ndcg, x) Pareto points: no other point has both more NDCG and more x."""
    pairs = sorted(((p.metrics["ndcg@10"], p.metrics[x]) for p in points), reverse=True)
    front: list[tuple[float, float]] = []
    for ndcg, value in pairs:
        if not front or value > front[-1][1]:
            front.append((ndcg, value))
    return front


def best_x_at(front: list[tuple[float, float]], ndcg: float) -> float | None:
    """Most x the frontier offers at NDCG >= ``ndcg``, interpolating between its points."""
    if not front or ndcg > front[0][0]:
        return None
    above = [(n, v) for n, v in front if n >= ndcg]
    below = [(n, v) for n, v in front if n < ndcg]
    n1, v1 = above[-1]
    if not below or n1 == ndcg:
        return v1
    n2, v2 = below[0]
    return v1 + (v2 - v1) * (n1 - ndcg) / (n1 - n2)


def frontier_gaps(
    points: Sequence[SweepPoint], ours: str, baselines: Sequence[str], x: str = "ild@10"
) -> list[FrontierGap]:
    """Is our curve at or above each baseline's, point by point of the baseline?"""
    front = upper_frontier([p for p in points if p.strategy == ours], x)
    gaps = []
    for name in baselines:
        theirs = [p for p in points if p.strategy == name]
        if not theirs:
            continue
        reached, below, worst, unreachable = 0, 0, -math.inf, 0
        for p in theirs:
            best = best_x_at(front, p.metrics["ndcg@10"])
            if best is None:
                unreachable += 1
                continue
            reached += 1
            shortfall = p.metrics[x] - best
            worst = max(worst, shortfall)
            below += shortfall > 1e-9
        gaps.append(FrontierGap(name, reached, below, worst if reached else 0.0, unreachable))
    return gaps


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"


def _brand_ceiling(ref: SweepPoint, k: int = 10) -> str:
    """One brand per item: a page of ``k`` covers at most ``k`` brands. Say when that
    ceiling makes the coverage target unreachable for every strategy."""
    have = ref.metrics["brand_cov@10"]
    if have <= 0 or have * (1 + COVERAGE_GAIN) <= k:
        return ""
    return (
        f" Brand coverage@10 cannot exceed {k} (one brand per item), so no strategy can gain"
        f" more than {k / have - 1:+.1%} on it here: that target is out of reach by construction."
    )


def write_markdown(
    path: Path,
    *,
    title: str,
    notes: Sequence[str],
    test: Sequence[SweepPoint],
    targets: Sequence[TargetCheck],
    gaps: dict[str, list[FrontierGap]],
    table_knobs: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    sections: Sequence[str] = (),
) -> None:
    """``reports/<dataset>.md``: setup notes, the target check, frontier gaps, extra
    ``sections`` (markdown lines, e.g. what the engine's native MMR was sent), the table."""
    lines = [f"# {title}", ""]
    lines += [f"- {note}" for note in notes]
    ref = _reference(test)
    lines += [
        "",
        "## Targets (operating point chosen on validation, measured on test)",
        "",
        f"Reference = best relevance-only order: `{ref.strategy}` "
        f"(NDCG@10 {ref.metrics['ndcg@10']:.4f}, ILD@10 {ref.metrics['ild@10']:.3f}, "
        f"brand cov {ref.metrics['brand_cov@10']:.2f}, cat cov {ref.metrics['cat_cov@10']:.2f}). "
        f"Targets: NDCG@10 ≥ {NDCG_SHARE:.0%} of it, ILD@10 ≥ +{ILD_GAIN:.0%}, "
        f"brand and category coverage@10 ≥ +{COVERAGE_GAIN:.0%}.{_brand_ceiling(ref)}",
        "",
        "| strategy | knob | NDCG share | ILD gain | brand cov gain | cat cov gain | all met |",
        "|---|---:|---:|---:|---:|---:|:-:|",
    ]
    for t in targets:
        if t.diversity is None:
            lines.append(f"| {t.strategy} | – | no point keeps 97% NDCG on validation | | | | no |")
            continue
        lines.append(
            f"| {t.strategy} | {t.diversity:.2f} | {t.ndcg_share:.1%} | {t.ild_gain:+.1%} | "
            f"{t.brand_gain:+.1%} | {t.cat_gain:+.1%} | {'yes' if t.met else 'no'} |"
        )
    for ours, rows in gaps.items():
        lines += [
            "",
            f"## Frontier: `{ours}` against the baselines (NDCG@10 vs ILD@10, test)",
            "",
            "| baseline | points reached | points where ours has less ILD | worst shortfall | "
            "points more relevant than any of ours |",
            "|---|---:|---:|---:|---:|",
        ]
        for g in rows:
            lines.append(
                f"| {g.baseline} | {g.points} | {g.below} | {g.worst:+.4f} | {g.unreachable} |"
            )
    if sections:
        lines += ["", *sections]
    lines += ["", "## All points (test)", ""]
    columns = [
        (key, label)
        for key, label in COLUMNS
        if key not in USER_COLUMNS
        or any(not math.isnan(p.metrics.get(key, math.nan)) for p in test)
    ]
    lines.append(
        "| strategy | knob | " + " | ".join(label for _, label in columns) + " | p50 µs | p95 µs |"
    )
    lines.append("|---|---:|" + "---:|" * (len(columns) + 2))
    chosen = {t.strategy: t.diversity for t in targets}  # each operating point is shown too
    for p in test:
        if (
            p.diversity not in table_knobs
            and p.diversity != chosen.get(p.strategy)
            and len([q for q in test if q.strategy == p.strategy]) > 1
        ):
            continue
        cells = " | ".join(_fmt(p.metrics.get(key, float("nan"))) for key, _ in columns)
        lines.append(
            f"| {p.strategy} | {p.diversity:g} | {cells} | {p.latency_us_p50:.0f} | "
            f"{p.latency_us_p95:.0f} |"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_plot(path: Path, title: str, points: Sequence[SweepPoint]) -> None:
    """``reports/<dataset>-frontier.png``: NDCG@10 against ILD, brand and category coverage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_spec = (("ild@10", "ILD@10"), ("brand_cov@10", "brand coverage@10"),
                 ("cat_cov@10", "category coverage@10"))  # fmt: skip
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.5), sharey=True)
    names = list(dict.fromkeys(p.strategy for p in points))
    cmap = plt.get_cmap("tab20")
    for ax, (key, label) in zip(axes, axes_spec, strict=True):
        for i, name in enumerate(names):
            pts = sorted((p for p in points if p.strategy == name), key=lambda p: p.diversity)
            xs = np.array([p.metrics[key] for p in pts])
            ys = np.array([p.metrics["ndcg@10"] for p in pts])
            style = "-o" if len(pts) > 1 else "*"
            size = 4 if len(pts) > 1 else 14
            ours = name.startswith(("fusion", "learned"))
            ax.plot(xs, ys, style, ms=size, lw=2.4 if ours else 1.2, color=cmap(i % 20),
                    label=name)  # fmt: skip
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("NDCG@10")
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
