"""One measured point of a sweep, and its JSON form (kept beside the report for re-plotting)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["SweepPoint", "load_points", "save_points"]


@dataclass(frozen=True)
class SweepPoint:
    strategy: str
    diversity: float
    metrics: dict[str, float]
    latency_us_p50: float
    latency_us_p95: float
    episodes: int


def save_points(path: Path, points: Sequence[SweepPoint]) -> None:
    """JSON with NaN written as null (JSON has no NaN)."""

    def clean(point: SweepPoint) -> dict[str, object]:
        raw = asdict(point)
        raw["metrics"] = {k: (None if math.isnan(v) else v) for k, v in point.metrics.items()}
        return raw

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([clean(p) for p in points], indent=1), encoding="utf-8")


def load_points(path: Path) -> list[SweepPoint]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for item in raw:
        metrics = {k: (math.nan if v is None else float(v)) for k, v in item["metrics"].items()}
        out.append(SweepPoint(**{**item, "metrics": metrics}))
    return out
