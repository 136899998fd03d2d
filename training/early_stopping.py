"""Which epoch's weights a training run returns: the best validation score, patience-limited.

Shared by both trainers (listwise and policy gradient). The initial weights count as epoch -1,
so training never returns weights that validate worse than where it started.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reranker.core.features import FEATURE_NAMES
from reranker.core.weights import FusionWeights
from training.run_log import RunLog

__all__ = ["BestEpoch", "TrainResult", "to_weights"]


@dataclass(frozen=True)
class TrainResult:
    weights: FusionWeights
    history: list[dict[str, float]]
    best_epoch: int
    log_kind: str  # tensorboard / csv / none
    start_score: float = float("nan")  # the initial weights' validation score (epoch -1)
    best_score: float = float("nan")


def to_weights(values: torch.Tensor, slope: torch.Tensor, version: str) -> FusionWeights:
    return FusionWeights(
        FEATURE_NAMES,
        values.detach().cpu().numpy().astype(np.float32),
        slope.detach().cpu().numpy().astype(np.float32),
        version=version,
    )


class BestEpoch:
    """Keeps the best (score, weights) seen, logs each epoch's row, and says when to stop."""

    def __init__(self, score: float, values: torch.Tensor, slope: torch.Tensor, patience: int,
                 log_dir: Path | None, progress: Callable[[str], None] | None) -> None:  # fmt: skip
        self.best = (score, values.detach().clone(), slope.detach().clone(), -1)
        self.start_score = score
        self.patience = patience
        self.stale = 0
        self.history: list[dict[str, float]] = []
        self.log = RunLog(log_dir) if log_dir is not None else None
        self.progress = progress
        if progress is not None:
            progress(f"start (epoch -1): valid score {score:.4f}")

    def record(self, epoch: int, row: dict[str, float], score: float, message: str,
               values: torch.Tensor, slope: torch.Tensor) -> bool:  # fmt: skip
        """Record one epoch (``row`` gets ``valid/score``); True when patience has run out."""
        row["valid/score"] = score
        self.history.append(row)
        if self.log is not None:
            self.log.log(epoch, row)
        if self.progress is not None:
            self.progress(message)
        if score > self.best[0] + 1e-5:
            self.best = (score, values.detach().clone(), slope.detach().clone(), epoch)
            self.stale = 0
            return False
        self.stale += 1
        return self.stale >= self.patience

    def result(self, version: str) -> TrainResult:
        if self.log is not None:
            self.log.close()
        return TrainResult(
            weights=to_weights(self.best[1], self.best[2], version),
            history=self.history,
            best_epoch=self.best[3],
            log_kind=self.log.kind if self.log is not None else "none",
            start_score=float(self.start_score),
            best_score=float(self.best[0]),
        )
