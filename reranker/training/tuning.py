"""``divrank tune``: optuna over λ, μ, the homogeneity term weights and the knob coupling γ.

Each trial trains briefly on a training subset and sweeps the learned fusion over the knob on
validation lists. The objective is relevance subject to a diversity floor: the best NDCG@10
among knob points whose ILD@10 and brand/category coverage@10 beat the relevance-only order
by the floors; a trial with no such point scores its best NDCG minus the missing diversity.
Seeded TPE sampler, so a rerun with the same seed repeats the search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from reranker.core.weights import FusionWeights
from reranker.evaluation.episodes import ItemTable
from reranker.evaluation.page_metrics import EpisodeContext
from reranker.evaluation.results import SweepPoint
from reranker.evaluation.strategies import CoreStrategy, RerankContext
from reranker.evaluation.sweep import sweep
from reranker.training.losses import LossConfig
from reranker.training.trainer import TrainConfig, train

__all__ = ["TuneResult", "floor_objective", "tune"]

TUNE_KNOBS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class TuneResult:
    best_value: float
    best_params: dict[str, float]
    weights: FusionWeights
    trials: int


def floor_objective(points: Sequence[SweepPoint], ild_floor: float, cov_floor: float) -> float:
    """Best NDCG@10 among points meeting the floors over the d = 0 point (the reference)."""
    ref = min(points, key=lambda p: p.diversity)
    r = ref.metrics

    def shortfall(p: SweepPoint) -> float:
        m = p.metrics
        need = [
            (1 + ild_floor) * r["ild@10"] - m["ild@10"],
            ((1 + cov_floor) * r["brand_cov@10"] - m["brand_cov@10"]) / max(r["brand_cov@10"], 1),
            ((1 + cov_floor) * r["cat_cov@10"] - m["cat_cov@10"]) / max(r["cat_cov@10"], 1),
        ]
        return max(0.0, *need)

    feasible = [p.metrics["ndcg@10"] for p in points if shortfall(p) == 0.0]
    if feasible:
        return max(feasible)
    return max(p.metrics["ndcg@10"] - shortfall(p) for p in points)


def tune(
    train_lists: Sequence[RerankContext],
    valid_lists: Sequence[RerankContext],
    valid_metrics: Sequence[EpisodeContext],
    table: ItemTable,
    shallow: bool,
    *,
    trials: int,
    seed: int,
    epochs: int = 4,
    ild_floor: float = 0.30,
    cov_floor: float = 0.40,
    say: Callable[[str], None] = lambda _: None,
) -> TuneResult:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    best: dict[str, FusionWeights] = {}

    def objective(trial: optuna.Trial) -> float:
        loss = LossConfig(
            lam=trial.suggest_float("lam", 0.05, 5.0, log=True),
            mu=trial.suggest_float("mu", 0.0, 2.0),
            redundancy=trial.suggest_float("redundancy", 0.0, 2.0),
            category=trial.suggest_float("category", 0.0, 2.0),
            brand=trial.suggest_float("brand", 0.0, 2.0),
            centroid=trial.suggest_float("centroid", 0.0, 2.0),
            gamma=trial.suggest_float("gamma", 0.5, 2.0),
        )
        lr = trial.suggest_float("lr", 0.005, 0.1, log=True)
        cfg = TrainConfig(epochs=epochs, lr=lr, seed=seed, loss=loss, patience=2)
        result = train(train_lists, valid_lists, shallow, cfg, version=f"tune-{trial.number}")
        learned = CoreStrategy("learned", "fusion", weights=result.weights)
        points = sweep(valid_lists, valid_metrics, table, [learned], TUNE_KNOBS, progress=False)
        value = floor_objective(points, ild_floor, cov_floor)
        best[str(trial.number)] = result.weights
        say(f"trial {trial.number}: {value:.4f} {trial.params}")
        return value

    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=trials)
    chosen = best[str(study.best_trial.number)]
    return TuneResult(
        best_value=float(study.best_value),
        best_params=dict(study.best_params),
        weights=replace(chosen, version=f"tuned-seed{seed}"),
        trials=len(study.trials),
    )
