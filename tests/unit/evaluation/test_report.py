"""Target check and frontier comparison on made-up sweep points."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.report import (
    check_targets,
    frontier_gaps,
    learned_operating_point,
    write_markdown,
    write_plot,
)
from evaluation.results import SweepPoint


def _p(name: str, d: float, ndcg: float, ild: float, brand: float = 3.0, cat: float = 2.0):
    metrics = {"ndcg@10": ndcg, "ild@10": ild, "brand_cov@10": brand, "cat_cov@10": cat}
    return SweepPoint(name, d, metrics, 100.0, 200.0, 10)


def test_targets_pick_the_knob_on_validation_and_read_test() -> None:
    valid = [
        _p("engine", 0.0, 0.50, 0.40),
        _p("mmr", 0.0, 0.50, 0.40),
        _p("mmr", 0.5, 0.49, 0.55, brand=4.5, cat=3.0),  # 98% NDCG, +37.5% ILD, +50%, +50%
        _p("mmr", 1.0, 0.40, 0.70, brand=6.0, cat=4.0),  # too costly
    ]
    test = [
        _p("engine", 0.0, 0.60, 0.40),
        _p("mmr", 0.0, 0.60, 0.40),
        _p("mmr", 0.5, 0.59, 0.54, brand=4.3, cat=2.9),
        _p("mmr", 1.0, 0.45, 0.70, brand=6.0, cat=4.0),
    ]
    (check,) = check_targets(valid, test)
    assert check.diversity == 0.5
    assert check.ndcg_share == pytest.approx(0.59 / 0.60)
    assert check.ild_gain == pytest.approx(0.35)
    assert check.brand_gain == pytest.approx(4.3 / 3.0 - 1)
    assert check.met


def test_no_feasible_point_is_reported_not_met() -> None:
    valid = [_p("engine", 0.0, 0.5, 0.4), _p("dpp", 1.0, 0.3, 0.9)]
    (check,) = check_targets(valid, valid)
    assert check.diversity is None
    assert not check.met


def test_frontier_gap_interpolates_our_curve() -> None:
    points = [
        _p("fusion", 0.0, 0.60, 0.40),
        _p("fusion", 1.0, 0.40, 0.80),
        _p("mmr", 0.5, 0.50, 0.55),  # ours at 0.50 NDCG: 0.60 ILD -> not below
        _p("mmr", 0.9, 0.45, 0.75),  # ours: 0.70 -> below by 0.05
        _p("mmr", 0.0, 0.65, 0.40),  # more relevant than any of ours
    ]
    (gap,) = frontier_gaps(points, "fusion", ["mmr"])
    assert (gap.points, gap.below, gap.unreachable) == (2, 1, 1)
    assert gap.worst == pytest.approx(0.05)


def test_report_files_are_written(tmp_path: Path) -> None:
    points = [_p("engine", 0.0, 0.6, 0.4), _p("mmr", 0.0, 0.6, 0.4), _p("mmr", 0.2, 0.58, 0.5)]
    md, png = tmp_path / "r.md", tmp_path / "r.png"
    write_markdown(md, title="toy", notes=["n"], test=points,
                   targets=check_targets(points, points), gaps={})  # fmt: skip
    text = md.read_text()
    assert "| mmr | 0.2 | 0.580 |" in text
    assert "Reference = best relevance-only order: `engine`" in text
    write_plot(png, "toy", points)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_extra_sections_go_before_the_table(tmp_path: Path) -> None:
    points = [_p("engine", 0.0, 0.6, 0.4), _p("mmr", 0.2, 0.58, 0.5)]
    md = tmp_path / "r.md"
    write_markdown(md, title="toy", notes=[], test=points, targets=check_targets(points, points),
                   gaps={}, sections=["## Native MMR", "", "sent X, got Y"])  # fmt: skip
    text = md.read_text()
    assert "## Native MMR\n\nsent X, got Y" in text
    assert text.index("## Native MMR") < text.index("## All points (test)")


@pytest.mark.parametrize(("brands", "said"), [(9.38, "+6.6%"), (5.0, None)])
def test_brand_coverage_ceiling_is_stated(tmp_path: Path, brands: float, said: str | None) -> None:
    """One brand per item: with 9.38 of 10 already covered, +40% is impossible."""
    points = [_p("engine", 0.0, 0.6, 0.4, brand=brands), _p("mmr", 0.2, 0.58, 0.5, brand=brands)]
    md = tmp_path / "r.md"
    write_markdown(md, title="toy", notes=[], test=points, targets=check_targets(points, points),
                   gaps={})  # fmt: skip
    text = md.read_text()
    if said is None:
        assert "cannot exceed" not in text
    else:
        assert "cannot exceed 10 (one brand per item)" in text
        assert f"no strategy can gain more than {said}" in text


def test_eval_command_default_knobs_are_the_sweep_grid() -> None:
    """The CLI spells the grid out (no heavy import for ``--help``); it must not drift."""
    import inspect

    from cli.commands.evaluate import eval_command
    from evaluation.sweep import DEFAULT_KNOBS

    default = inspect.signature(eval_command).parameters["knobs"].default
    assert tuple(float(k) for k in default.split(",")) == DEFAULT_KNOBS
    assert 0.05 in DEFAULT_KNOBS and 0.15 in DEFAULT_KNOBS  # fine where 97% NDCG points lie


def test_operating_points_off_the_table_grid_are_listed(tmp_path: Path) -> None:
    points = [
        _p("engine", 0.0, 0.6, 0.4),
        _p("mmr", 0.0, 0.6, 0.4),
        _p("mmr", 0.15, 0.59, 0.5, brand=3.5, cat=2.5),  # the operating point (98%)
        _p("mmr", 0.25, 0.50, 0.6),  # off the grid, not chosen: left out
        _p("mmr", 1.0, 0.4, 0.7),
    ]
    md = tmp_path / "r.md"
    write_markdown(md, title="toy", notes=[], test=points, targets=check_targets(points, points),
                   gaps={})  # fmt: skip
    text = md.read_text()
    assert "| mmr | 0.15 | 0.590 |" in text
    assert "| mmr | 0.25 |" not in text


def test_learned_operating_point_keeps_105_percent_of_engine_then_most_diversity() -> None:
    engine = _p("engine", 0.0, 0.40, 0.40, brand=4.0)
    ours = [
        _p("fusion-relevance", 0.0, 0.48, 0.36, brand=3.8),
        _p("fusion-relevance", 0.3, 0.43, 0.52, brand=5.6),  # 1.075x, ILD +30%, brands +40%
        _p("fusion-relevance", 0.5, 0.41, 0.60, brand=6.0),  # 1.025x: below the bar
    ]
    score, knob = learned_operating_point(ours, engine) or (0.0, -1.0)
    assert knob == 0.3 and score == pytest.approx(min(0.30 / 0.25, 0.40 / 0.35))
    assert learned_operating_point(ours[2:], engine) is None


def test_knob_steps_are_shares_of_the_knob_zero_ndcg() -> None:
    from evaluation.report import knob_steps

    points = [SweepPoint("f", d, {"ndcg@10": n}, 1.0, 1.0, 10)
              for d, n in ((0.0, 0.5), (0.05, 0.49), (0.1, 0.47), (0.2, 0.40), (0.25, 0.35))]
    assert knob_steps(points) == pytest.approx([0.02, 0.04, 0.10])  # 0.1 → 0.2 is no 0.05 step
    assert knob_steps(points[1:]) == []  # no knob 0 to measure against


def test_the_live_pipeline_gets_its_own_learned_row_at_its_own_validation_knob() -> None:
    from evaluation.report import relevance_section

    def point(name: str, d: float, ndcg: float, ild: float, brand: float) -> SweepPoint:
        metrics = {"ndcg@10": ndcg, "ild@10": ild, "brand_cov@10": brand, "cat_cov@10": 2.0,
                   "ndcg_judged@10": ndcg, "judged@10": 0.2}  # fmt: skip
        return SweepPoint(name, d, metrics, 1.0, 1.0, 10)

    def sweep(pipeline_at: float) -> list[SweepPoint]:
        out = [point("engine", 0.0, 0.40, 0.40, 4.0), point("relevance", 0.0, 0.48, 0.36, 3.8)]
        for name in ("fusion-relevance", "pipeline"):
            for d in (0.0, 0.2, 0.4):
                good = name == "fusion-relevance" or d == pipeline_at
                out.append(point(name, d, 0.43 if good else 0.30, 0.52, 5.6))
        return out

    lines = relevance_section(sweep(0.4), sweep(0.4))
    rows = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ")}
    assert rows["pipeline"].split(" | ")[1] == "0.40" and rows["pipeline"].endswith("| yes |")
    assert rows["fusion-relevance"].split(" | ")[1] == "0.40"
    without = relevance_section([p for p in sweep(0.4) if p.strategy != "pipeline"],
                                [p for p in sweep(0.4) if p.strategy != "pipeline"])  # fmt: skip
    assert not any(line.startswith("| pipeline") for line in without)
