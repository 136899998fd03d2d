"""``divrank train-relevance``: fit the learned relevance model (LightGBM ``lambdarank``) on
cached episodes with graded judgments, early-stopped on the validation split.

Rows are the engine's windows (every candidate, in engine order); an unjudged candidate has
gain 0, as in the NDCG the reports lead with. The query vector is withheld from a share of the
training windows (``query_vector_dropout``) so one model serves requests with a query vector
(k-NN, hybrid, the sidecar's encoder) and without one (a plain BM25 request).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm
import numpy as np
import numpy.typing as npt

from evaluation.episodes import Episode, ItemTable
from evaluation.sweep import candidates_of
from reranker.core.relevance_features import RELEVANCE_FEATURES, IdfTable, relevance_features
from reranker.core.relevance_model import RelevanceModel

__all__ = ["RelevanceConfig", "RelevanceRows", "relevance_rows", "train_relevance"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class RelevanceConfig:
    rounds: int = 400
    leaves: int = 31
    learning_rate: float = 0.15
    min_data_in_leaf: int = 50
    early_stopping: int = 40
    query_vector_dropout: float = 0.3
    seed: int = 0


@dataclass(frozen=True)
class RelevanceRows:
    features: npt.NDArray[np.float32]  # (rows, F)
    labels: npt.NDArray[np.int32]  # (rows,) judged gain, 0 when unjudged
    groups: list[int]  # rows per episode, in order


def relevance_rows(
    episodes: Sequence[Episode],
    table: ItemTable,
    idf: IdfTable,
    dropout: float = 0.0,
    seed: int = 0,
) -> RelevanceRows:
    rng = np.random.default_rng(seed)
    feats, labels, groups = [], [], []
    for ep in episodes:
        if len(ep.items) == 0:
            continue
        vector = ep.query_embedding if rng.random() >= dropout else None
        feats.append(relevance_features(ep.query, table.titles_of(ep.items),
                                        candidates_of(ep, table), idf, vector))  # fmt: skip
        labels.append(np.array([ep.judgments.get(str(table.ids[r]), 0) for r in ep.items],
                               dtype=np.int32))  # fmt: skip
        groups.append(len(ep.items))
    if not groups:
        raise ValueError("no episodes with candidates to train the relevance model on")
    return RelevanceRows(np.concatenate(feats), np.concatenate(labels), groups)


def train_relevance(
    train: Sequence[Episode],
    valid: Sequence[Episode],
    table: ItemTable,
    config: RelevanceConfig = RelevanceConfig(),
    metadata: dict[str, Any] | None = None,
    say: Say = lambda _: None,
) -> RelevanceModel:
    """A lambdarank model on ``train``, stopped where validation NDCG@10 stops rising."""
    idf = IdfTable.from_titles(table.titles_of())
    tr = relevance_rows(train, table, idf, config.query_vector_dropout, config.seed)
    va = relevance_rows(valid, table, idf, 0.0, config.seed)
    max_gain = int(max(tr.labels.max(), va.labels.max(), 1))
    params = {
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [10],
        "label_gain": list(range(max_gain + 1)),  # linear gains, as the reports' NDCG
        "num_leaves": config.leaves,
        "learning_rate": config.learning_rate,
        "min_data_in_leaf": config.min_data_in_leaf,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "seed": config.seed,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
    }
    names = list(RELEVANCE_FEATURES)
    dtrain = lightgbm.Dataset(tr.features, tr.labels, group=tr.groups, feature_name=names)
    dvalid = lightgbm.Dataset(va.features, va.labels, group=va.groups, reference=dtrain)
    history: dict[str, Any] = {}
    booster = lightgbm.train(
        params, dtrain, num_boost_round=config.rounds, valid_sets=[dvalid], valid_names=["valid"],
        callbacks=[lightgbm.early_stopping(config.early_stopping, verbose=False),
                   lightgbm.record_evaluation(history)],
    )  # fmt: skip
    curve = [float(v) for v in history.get("valid", {}).get("ndcg@10", [])]
    best = booster.best_iteration or config.rounds
    say(f"relevance model: {best} trees, validation NDCG@10 {max(curve, default=0):.4f} "
        f"({len(tr.groups)} train / {len(va.groups)} validation windows)")  # fmt: skip
    gain = booster.feature_importance("gain", iteration=best)
    importance = {n: round(float(g), 1) for n, g in zip(names, gain, strict=True)}
    text = booster.model_to_string(num_iteration=best)
    return RelevanceModel(
        booster=lightgbm.Booster(model_str=text),
        idf=idf,
        version=f"relevance-{table.model.split('/')[-1][:24]}-{best}t",
        metadata={
            **(metadata or {}),
            "trees": best,
            "train_windows": len(tr.groups),
            "valid_windows": len(va.groups),
            "valid_ndcg10_lightgbm": round(max(curve, default=0.0), 5),
            # the grades training saw (0 = unjudged): clicks, carts and purchases from a replay
            "label_counts": {str(g): int(c) for g, c in enumerate(np.bincount(tr.labels)) if c},
            "gain_importance": importance,
            "config": config.__dict__,
        },
    )
