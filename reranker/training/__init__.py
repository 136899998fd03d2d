"""Offline training of the fusion weights (torch). Never imported by the sidecar."""

from reranker.training.frontier import frontier_score, target_score
from reranker.training.losses import LossConfig, LossParts, fusion_loss
from reranker.training.rollouts import RolloutBatch, build_rollouts, relevance_targets
from reranker.training.run_log import RunLog
from reranker.training.trainer import KNOB_GRID, TrainConfig, TrainResult, to_weights, train
from reranker.training.tuning import (
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
