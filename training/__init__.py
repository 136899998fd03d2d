"""Offline training of the fusion weights (torch). Never imported by the sidecar."""

from training.frontier import frontier_score, target_score
from training.losses import LossConfig, LossParts, fusion_loss
from training.rollouts import RolloutBatch, build_rollouts, relevance_targets
from training.run_log import RunLog
from training.trainer import KNOB_GRID, TrainConfig, TrainResult, to_weights, train
from training.tuning import (
    TuneResult,
    floor_objective,
    frontier_scorer,
    tune,
    tune_weights,
    weights_from_params,
)

__all__ = [
    "KNOB_GRID",
    "LossConfig",
    "LossParts",
    "RolloutBatch",
    "RunLog",
    "TrainConfig",
    "TrainResult",
    "TuneResult",
    "build_rollouts",
    "floor_objective",
    "frontier_score",
    "frontier_scorer",
    "fusion_loss",
    "relevance_targets",
    "target_score",
    "to_weights",
    "train",
    "tune",
    "tune_weights",
    "weights_from_params",
]
