"""``divrank train``: learn the fusion weights (values and diversity slopes) with torch.

Offline only: the sidecar never imports this package (it loads the saved safetensors with
numpy). Each epoch re-selects the training pages with the current weights at a knob drawn
per list, replays them into step features, and takes Adam steps on ``losses.fusion_loss``.

The per-step (diversity) features are pinned to weight 0 at d = 0: the knob alone scales
them (``values`` of those features stay 0, only their slopes learn), so the relevance-only
page at d = 0 cannot be spoilt by training. Early stopping and the returned epoch follow
``select`` when given (a validation score, higher is better: e.g. the frontier against the
baselines measured by a sweep), else the validation loss; the initial weights count as
epoch -1, so training never returns weights that validate worse than where it started.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from evaluation.strategies import RerankContext
from reranker.core.features import FEATURE_NAMES, STEP_FEATURES
from reranker.core.weights import DEFAULT_WEIGHTS, FusionWeights
from training.early_stopping import BestEpoch, TrainResult, to_weights
from training.losses import LossConfig, LossParts, fusion_loss
from training.rollouts import RolloutBatch, build_rollouts

__all__ = ["KNOB_GRID", "TrainConfig", "TrainResult", "parameters", "to_weights", "train"]

KNOB_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    lr: float = 0.005
    batch: int = 128
    patience: int = 3
    seed: int = 0
    knob_grid: tuple[float, ...] = KNOB_GRID
    loss: LossConfig = field(default_factory=LossConfig)
    log_dir: Path | None = None


def _tensors(batch: RolloutBatch) -> tuple[torch.Tensor, ...]:
    return (
        torch.from_numpy(batch.features),
        torch.from_numpy(batch.available),
        torch.from_numpy(batch.target),
        torch.from_numpy(batch.judged),
        torch.from_numpy(batch.diversity),
    )


def _evaluate(values: torch.Tensor, slope: torch.Tensor, batch: RolloutBatch,
              cfg: LossConfig) -> LossParts:  # fmt: skip
    with torch.no_grad():
        return fusion_loss(values, slope, *_tensors(batch), cfg)


def parameters(
    init: FusionWeights, seed: int
) -> tuple[np.random.Generator, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded generator, the pinned mask (per-step features: weight 0 at d = 0) and the
    trainable ``values`` and ``slope`` of ``w(d) = values + fusion_knob(d)·slope``."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    pinned = torch.tensor([name in STEP_FEATURES for name in FEATURE_NAMES])
    values = torch.tensor(init.effective(0.0)).masked_fill(pinned, 0.0).requires_grad_(True)
    slope = torch.tensor(init.effective(1.0) - init.effective(0.0), requires_grad=True)
    return np.random.default_rng(seed), pinned, values, slope


def train(
    train_lists: Sequence[RerankContext],
    valid_lists: Sequence[RerankContext],
    shallow: bool,
    cfg: TrainConfig,
    init: FusionWeights = DEFAULT_WEIGHTS,
    version: str = "learned",
    progress: Callable[[str], None] | None = None,
    select: Callable[[FusionWeights], float] | None = None,
) -> TrainResult:
    """Train from ``init``; returns the weights of the best validation epoch (module doc)."""
    if not train_lists or not valid_lists:
        raise ValueError("training needs non-empty train and validation lists")
    rng, pinned, values, slope = parameters(init, cfg.seed)
    optimiser = torch.optim.Adam([values, slope], lr=cfg.lr)
    valid_knobs = [cfg.knob_grid[i % len(cfg.knob_grid)] for i in range(len(valid_lists))]

    def quality(total: float) -> float:  # higher is better
        if select is None:
            return -total
        return select(to_weights(values, slope, version))

    init_batch = build_rollouts(valid_lists, to_weights(values, slope, version), valid_knobs,
                                shallow)  # fmt: skip
    init_total = float(_evaluate(values, slope, init_batch, cfg.loss).total)
    keeper = BestEpoch(quality(init_total), values, slope, cfg.patience, cfg.log_dir, progress)
    step = 0
    for epoch in range(cfg.epochs):
        current = to_weights(values, slope, version)
        knobs = rng.choice(np.asarray(cfg.knob_grid), size=len(train_lists))
        batch = build_rollouts(train_lists, current, knobs.tolist(), shallow)
        tensors = _tensors(batch)
        order = rng.permutation(len(batch))
        sums = np.zeros(3)
        for start in range(0, len(order), cfg.batch):
            idx = torch.from_numpy(order[start : start + cfg.batch])
            parts = fusion_loss(values, slope, *(t[idx] for t in tensors), cfg.loss)
            optimiser.zero_grad()
            parts.total.backward()
            assert values.grad is not None
            values.grad.masked_fill_(pinned, 0.0)
            optimiser.step()
            with torch.no_grad():
                values.masked_fill_(pinned, 0.0)
            sums += [float(parts.rel), float(parts.hom), float(parts.div)]
            step += 1
        batches = max(1, -(-len(order) // cfg.batch))
        valid_batch = build_rollouts(valid_lists, to_weights(values, slope, version),
                                     valid_knobs, shallow)  # fmt: skip
        val = _evaluate(values, slope, valid_batch, cfg.loss)
        row = {
            "epoch": float(epoch),
            "train/rel": sums[0] / batches,
            "train/hom": sums[1] / batches,
            "train/div": sums[2] / batches,
            "valid/total": float(val.total),
            "valid/rel": float(val.rel),
            "valid/hom": float(val.hom),
            "valid/div": float(val.div),
        }
        score = quality(row["valid/total"])
        message = (
            f"epoch {epoch}: train rel {row['train/rel']:.4f} hom {row['train/hom']:.4f} "
            f"div {row['train/div']:.4f} | valid total {row['valid/total']:.4f} "
            f"score {score:.4f}"
        )
        if keeper.record(epoch, row, score, message, values, slope):
            break
    return keeper.result(version)
