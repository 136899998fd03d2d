"""``divrank tune``: optuna search for the fusion weights, seeded (a rerun repeats the search).

Two modes:

- ``direct`` (``tune_weights``): each trial proposes the diversity-side weights themselves
  (the knob slopes of the redundancy, MSD, DPP, novelty and pressure terms, and how much
  relevance is left at d = 1), sweeps the fusion over the knob on validation lists and
  scores the frontier against the baselines swept on the same lists
  (``frontier.frontier_score``). At d = 0 the weights are the base's relevance and
  personalisation, so the engine order is untouched there.
- ``train`` (``tune``): optuna over λ, μ, the homogeneity term weights and the knob coupling
  γ of the torch trainer; each trial trains briefly and is scored by relevance subject to a
  diversity floor: the best NDCG@10 among knob points whose ILD@10 and brand/category
  coverage@10 beat the relevance-only order by the floors (a trial with no such point scores
  its best NDCG minus the missing diversity).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from evaluation.episodes import ItemTable
from evaluation.page_metrics import EpisodeContext
from evaluation.results import SweepPoint
from evaluation.strategies import CoreStrategy, RerankContext, Strategy
from evaluation.sweep import DEFAULT_KNOBS, sweep
from reranker.core.features import FEATURE_NAMES
from reranker.core.weights import DEFAULT_WEIGHTS, FusionWeights
from training.frontier import frontier_score, learned_target_score, target_score
from training.losses import LossConfig
from training.trainer import TrainConfig, train

__all__ = [
    "DIRECT_SPACE",
    "OBJECTIVES",
    "TuneResult",
    "ValidationSet",
    "floor_objective",
    "frontier_scorer",
    "tune",
    "tune_weights",
    "weights_from_params",
]

TUNE_KNOBS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
OBJECTIVES = ("frontier", "targets", "learned", "ndcg")

# direct mode: parameter -> (feature, sign, low, high); the feature's slope is sign·value
# (its weight at d = 1 over its weight at d = 0, which is 0 for every per-step feature).
DIRECT_SPACE: dict[str, tuple[str, float, float, float]] = {
    "similarity_sum": ("similarity_sum", -1.0, 0.0, 0.6),
    "redundancy": ("redundancy", -1.0, 0.0, 1.0),
    "dpp_gain": ("dpp_gain", 1.0, 0.0, 0.1),
    "brand_novelty": ("brand_novelty", 1.0, 0.0, 0.6),
    "category_novelty": ("category_novelty", 1.0, 0.0, 0.6),
    "brand_pressure": ("brand_pressure", -1.0, 0.0, 0.5),
    "category_pressure": ("category_pressure", -1.0, 0.0, 0.5),
}
# relevance weight left at d = 1 (it is 1 at d = 0); >= 0.15 keeps "relevance still counts at
# d = 1" (DESIGN.md; tests/unit/core/test_rerank.py)
RELEVANCE_AT_ONE = (0.15, 0.6)


def weights_from_params(
    params: dict[str, float], base: FusionWeights = DEFAULT_WEIGHTS, version: str = "tuned"
) -> FusionWeights:
    """The base weights with the tuned diversity slopes and relevance-at-1 put in."""
    names = list(dict.fromkeys([*base.names, *(f for f, *_ in DIRECT_SPACE.values())]))
    index = {n: i for i, n in enumerate(base.names)}
    values = {n: float(base.values[index[n]]) if n in index else 0.0 for n in names}
    slope = {n: float(base.diversity_slope[index[n]]) if n in index else 0.0 for n in names}
    for key, (feature, sign, _, _) in DIRECT_SPACE.items():
        if key in params:
            slope[feature] = sign * float(params[key])
            values[feature] = 0.0  # per-step features are off at d = 0
    if "relevance_at_one" in params:
        slope["relevance"] = float(params["relevance_at_one"]) - values.get("relevance", 1.0)
    return FusionWeights.from_mapping(values, slope, version=version)


def frontier_scorer(
    valid_lists: Sequence[RerankContext],
    valid_metrics: Sequence[EpisodeContext],
    table: ItemTable,
    baselines: Sequence[Strategy],
    knobs: Sequence[float] = DEFAULT_KNOBS,
    objective: str = "frontier",
) -> Callable[[FusionWeights], float]:
    """``weights -> score`` on these validation lists (baselines swept once here).

    ``objective``: ``frontier`` (``frontier_score``: the whole curve against the baselines
    plus the target score), ``targets`` (``target_score`` alone: the issue-5 operating
    point keeping 97% NDCG, no baselines needed) or ``learned`` (``learned_target_score``:
    the fusion over the relevance model's scores against engine order; the lists must carry
    the model's scores) or ``ndcg`` (NDCG@10 of the fusion at the lowest knob: what the
    relevance and personalisation weights decide, e.g. on replayed users).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    base_points = (
        sweep(valid_lists, valid_metrics, table, baselines, knobs, progress=False)
        if objective == "frontier"
        else []
    )
    learned = objective == "learned"
    if learned:
        engine = CoreStrategy("engine", "engine", knob_sensitive=False)
        engine_point = sweep(valid_lists, valid_metrics, table, [engine], (0.0,), False)[0]

    def score(weights: FusionWeights) -> float:
        fusion = CoreStrategy("candidate", "fusion", weights=weights, learned_relevance=learned)
        ours = sweep(valid_lists, valid_metrics, table, [fusion], knobs, progress=False)
        if learned:
            return learned_target_score(ours, engine_point)
        reference = min(ours, key=lambda p: p.diversity)
        if objective == "targets":
            return target_score(ours, reference)
        if objective == "ndcg":
            return reference.metrics["ndcg@10"]
        return frontier_score(ours, base_points, reference)

    return score


ValidationSet = tuple[Sequence[RerankContext], Sequence[EpisodeContext], ItemTable]


def tune_weights(
    sets: Sequence[ValidationSet],
    baselines: Sequence[Strategy],
    *,
    trials: int,
    seed: int,
    base: FusionWeights = DEFAULT_WEIGHTS,
    knobs: Sequence[float] = DEFAULT_KNOBS,
    objective: str = "frontier",
    say: Callable[[str], None] = lambda _: None,
) -> TuneResult:
    """Direct search of the fusion's diversity weights on validation lists (module doc).

    ``sets``: (lists, metric contexts, item table) per candidate source, e.g. BM25, k-NN and
    hybrid lists of one dataset; the objective is the mean of their frontier scores, so one
    set of weights serves every retrieval. The base weights are the first trial, so the
    result is never worse than them on the objective.
    """
    import optuna

    if not sets or not all(lists for lists, _, _ in sets):
        raise ValueError("direct tuning needs validation lists")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scorers = [
        frontier_scorer(lists, m, table, baselines, knobs, objective) for lists, m, table in sets
    ]

    def evaluate(weights: FusionWeights) -> float:
        return sum(score(weights) for score in scorers) / len(scorers)

    best: dict[int, FusionWeights] = {}

    def trial_objective(trial: optuna.Trial) -> float:
        params = {
            key: trial.suggest_float(key, low, high)
            for key, (_, _, low, high) in DIRECT_SPACE.items()
        }
        params["relevance_at_one"] = trial.suggest_float("relevance_at_one", *RELEVANCE_AT_ONE)
        weights = weights_from_params(params, base, version=f"tuned-trial{trial.number}")
        value = evaluate(weights)
        best[trial.number] = weights
        shown = " ".join(f"{k}={v:.3f}" for k, v in params.items())
        say(f"trial {trial.number}: {value:.4f} {shown}")
        return value

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(_params_of(base))
    study.optimize(trial_objective, n_trials=trials)
    chosen = best[study.best_trial.number]
    return TuneResult(
        best_value=float(study.best_value),
        best_params=dict(study.best_params),
        weights=replace(chosen, version=f"tuned-seed{seed}"),
        trials=len(study.trials),
    )


def _params_of(weights: FusionWeights) -> dict[str, float]:
    """The direct-mode parameters that reproduce ``weights`` (clipped into the search space)."""
    at0, at1 = weights.effective(0.0), weights.effective(1.0)
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    out = {}
    for key, (feature, sign, low, high) in DIRECT_SPACE.items():
        value = sign * float(at1[col[feature]] - at0[col[feature]])
        out[key] = min(max(value, low), high)
    low, high = RELEVANCE_AT_ONE
    out["relevance_at_one"] = min(max(float(at1[col["relevance"]]), low), high)
    return out


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
