"""All metrics of a sweep point: ranking metrics over the pages plus per-page diversity.

One function turns the pages of every episode (rows of the item table, best first) into the
numbers of one table row, so every strategy is measured by exactly the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from evaluation.diversity_metrics import (
    calibration_kl,
    category_mix,
    gini,
    history_novelty,
    intra_list_distance,
    mix_entropy,
    novelty,
    over_personalization,
    repeat_share,
    top_category_share,
)
from evaluation.episodes import Episode, ItemTable
from evaluation.metrics import ranking_metrics

__all__ = ["DIVERSITY_METRICS", "PAGE_SIZE", "EpisodeContext", "page_metrics"]

PAGE_SIZE = 10  # every metric is "@10": the page a shopper sees

DIVERSITY_METRICS = (
    "ild@10",
    "brand_cov@10",
    "cat_cov@10",
    "cat_entropy@10",
    "cat_gini@10",
    "calib_kl@10",
    "novelty@10",
    "overpers@10",
    "topcat_share@10",
    "hist_novelty@10",
    "repeat_share@10",
)


@dataclass(frozen=True)
class EpisodeContext:
    """What the page metrics need about an episode beyond the page itself, computed once."""

    episode: Episode
    present: npt.NDArray[np.bool_]  # categories present among the candidates (for Gini)
    history_mix: npt.NDArray[np.float64] | None  # user's category mix, None without history
    centroid: npt.NDArray[np.float64] | None  # history centroid, None without history

    @classmethod
    def build(cls, episode: Episode, table: ItemTable) -> EpisodeContext:
        present = table.category_rows(episode.items).sum(axis=0) > 0
        if episode.history.size:
            history_mix = category_mix(table.category_rows(episode.history))
            centroid = table.embeddings[episode.history].astype(np.float64).mean(axis=0)
            if not np.any(centroid):
                centroid = None
        else:
            history_mix, centroid = None, None
        return cls(episode, present, history_mix, centroid)


def page_metrics(
    contexts: Sequence[EpisodeContext],
    pages: Sequence[npt.NDArray[np.integer]],
    table: ItemTable,
) -> dict[str, float]:
    """Mean of every metric over the episodes; ``pages[i]`` are item-table rows of episode i.

    Metrics that need a user (calibration, over-personalization) average over the episodes
    that have one and are NaN when none has.
    """
    if len(contexts) != len(pages):
        raise ValueError(f"{len(contexts)} episodes but {len(pages)} pages")
    judgments = {c.episode.qid: c.episode.judgments for c in contexts}
    ranked = {
        c.episode.qid: [str(table.ids[r]) for r in page[:PAGE_SIZE]]
        for c, page in zip(contexts, pages, strict=True)
    }
    out = {
        name: float(np.mean(v)) for name, v in ranking_metrics(judgments, ranked, PAGE_SIZE).items()
    }
    per: dict[str, list[float]] = {name: [] for name in DIVERSITY_METRICS}
    for ctx, page in zip(contexts, pages, strict=True):
        top = np.asarray(page[:PAGE_SIZE])
        rows = table.category_rows(top)
        mix = category_mix(rows)
        per["ild@10"].append(intra_list_distance(table.embeddings[top]))
        brands = table.brand[top]
        per["brand_cov@10"].append(float(np.unique(brands[brands >= 0]).size))
        per["cat_cov@10"].append(float((rows.sum(axis=0) > 0).sum()))
        per["cat_entropy@10"].append(mix_entropy(mix))
        per["cat_gini@10"].append(gini(mix[ctx.present]) if ctx.present.any() else 0.0)
        per["novelty@10"].append(novelty(table.popularity[top]))
        if ctx.history_mix is not None:
            per["calib_kl@10"].append(calibration_kl(ctx.history_mix, mix))
            per["topcat_share@10"].append(top_category_share(ctx.history_mix, mix))
        if ctx.centroid is not None:
            per["overpers@10"].append(over_personalization(table.embeddings[top], ctx.centroid))
        if ctx.episode.history.size:
            history = ctx.episode.history
            per["hist_novelty@10"].append(
                history_novelty(table.embeddings[top], table.embeddings[np.unique(history)])
            )
            per["repeat_share@10"].append(repeat_share(top, history))
    for name, values in per.items():
        out[name] = float(np.mean(values)) if values else float("nan")
    return out
