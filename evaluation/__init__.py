"""Offline evaluation: datasets, cached episodes, metrics, the strategy sweep and the report.

I/O lives at the edges (loaders, engine retrieval, report files); the metrics and the sweep
are plain functions over numpy arrays and the ranking core.
"""

from evaluation.diversity_metrics import (
    calibration_kl,
    category_mix,
    coverage,
    gini,
    intra_list_distance,
    mix_entropy,
    novelty,
    over_personalization,
)
from evaluation.episodes import Episode, EpisodeSet, ItemTable
from evaluation.metrics import RANKING_METRICS, judged_at_k, ranking_metrics
from evaluation.page_metrics import DIVERSITY_METRICS, EpisodeContext, page_metrics
from evaluation.results import SweepPoint, load_points, save_points

__all__ = [
    "DIVERSITY_METRICS",
    "RANKING_METRICS",
    "Episode",
    "EpisodeContext",
    "EpisodeSet",
    "ItemTable",
    "SweepPoint",
    "calibration_kl",
    "category_mix",
    "coverage",
    "gini",
    "intra_list_distance",
    "judged_at_k",
    "load_points",
    "mix_entropy",
    "novelty",
    "over_personalization",
    "page_metrics",
    "ranking_metrics",
    "save_points",
]
