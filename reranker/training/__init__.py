"""Offline training of the fusion weights (torch). Never imported by the sidecar."""

from reranker.training.losses import LossConfig, LossParts, fusion_loss
from reranker.training.rollouts import RolloutBatch, build_rollouts, relevance_targets
from reranker.training.run_log import RunLog
from reranker.training.trainer import KNOB_GRID, TrainConfig, TrainResult, to_weights, train
from reranker.training.tuning import TuneResult, floor_objective, tune

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
    "fusion_loss",
    "relevance_targets",
    "to_weights",
    "train",
    "tune",
]
