"""``divrank train --method policy``: REINFORCE on sampled pages with a self-critical baseline.

Why a second trainer: the listwise loss (``losses.py``) teaches "which candidate comes next"
against relevance targets plus fixed diversity terms; it never optimises what a page is
judged by, and over Home Depot's relevance model it did not beat its starting weights on
validation. Here the reward *is* the page's quality. Each training list is ranked twice at a
knob ``d`` drawn per list: greedily (the page the sidecar would serve: the baseline) and by
sampling every pick from a softmax over the same fused step scores plus the same constraint
tiers, at temperature ``τ``. The sampled page's reward minus the greedy page's (self-critical
sequence training, Rennie et al. 2017) scales the gradient of the sampled page's
log-probability, ``Σ_t log softmax(s_t / τ)[pick_t]`` with ``s_t = features_t @ w(d) +
tiers_t`` and ``w(d) = values + fusion_knob(d)·slope``: exactly the served fusion.

Reward at knob ``d``: ``NDCG@10 + μ·d·(ILD@10 + brand coverage@10 / 10)``: relevance always
counts, and the knob says how much a varied page is worth. With shallow judgments unjudged
items gain 0, as in the reports. Per-step features stay pinned to 0 at d = 0 (as in
``trainer.py``), and the initial weights count as epoch -1 of the validation ``select`` score,
so training never returns weights that validate worse than where it started.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from evaluation.diversity_metrics import coverage, intra_list_distance
from evaluation.strategies import RerankContext
from reranker.core import rerank
from reranker.core.features import FEATURE_NAMES
from reranker.core.knob import fusion_knob
from reranker.core.request import prepare
from reranker.core.selection_state import SelectionState
from reranker.core.types import Candidates, Knobs, UserProfile
from reranker.core.weights import DEFAULT_WEIGHTS, FusionWeights
from training.early_stopping import BestEpoch, TrainResult, to_weights
from training.trainer import TrainConfig, parameters

__all__ = ["PolicyConfig", "SampledPage", "page_reward", "sample_page", "train_policy"]

PAGE = 10


@dataclass(frozen=True)
class PolicyConfig:
    temperature: float = 0.05  # τ: fused scores differ by a few hundredths near the top
    mu: float = 0.5  # worth of a varied page at d = 1, in NDCG units
    samples: int = 2  # sampled pages per list and epoch


@dataclass(frozen=True)
class SampledPage:
    """What the gradient needs of one sampled page: the step features and tiers it saw."""

    features: npt.NDArray[np.float32]  # (T, n, F) before each pick
    tiers: npt.NDArray[np.float32]  # (T, n) constraint tiers; -inf for items already picked
    order: npt.NDArray[np.int64]  # (T,)


def sample_page(
    candidates: Candidates,
    k: int,
    diversity: float,
    weights: FusionWeights,
    temperature: float,
    rng: np.random.Generator,
    user: UserProfile | None = None,
) -> SampledPage:
    """A page drawn pick by pick from ``softmax((features @ w(d) + tiers) / τ)``."""
    knobs = Knobs(diversity=float(diversity), strategy="fusion")
    request = prepare(candidates, k, knobs, user)
    state = SelectionState(request)
    cons = state.constraints
    w = weights.effective(diversity)
    n, steps = request.n, request.k
    features = np.empty((steps, n, len(FEATURE_NAMES)), dtype=np.float32)
    tiers = np.empty((steps, n), dtype=np.float32)
    order = np.empty(steps, dtype=np.int64)
    zero = np.zeros(n, dtype=np.float32)
    for t in range(steps):
        features[t] = state.matrix
        cons.apply(zero, state.max_similarity, tiers[t])
        logits = (features[t] @ w + tiers[t]) / np.float32(temperature)
        logits -= logits.max()
        p = np.exp(logits.astype(np.float64))
        p /= p.sum()
        j = int(rng.choice(n, p=p))
        order[t] = j
        state.select(j)
    return SampledPage(features, tiers, order)


def page_reward(
    order: Sequence[int] | npt.NDArray[np.integer],
    ctx: RerankContext,
    diversity: float,
    mu: float,
) -> float:
    """``NDCG@10 + μ·d·(ILD@10 + brand coverage@10 / 10)`` of a page (module doc)."""
    page = [int(j) for j in order][:PAGE]
    c = ctx.candidates
    judgments = ctx.episode.judgments
    gains = np.array([judgments.get(c.ids[j], 0) for j in page], dtype=np.float64)
    discounts = 1.0 / np.log2(np.arange(2, len(page) + 2))
    # linear gains, as ranx's `ndcg` in the reports (not 2^g - 1): the reward is the metric
    # the epoch is chosen by, also on graded (1-3) judgments
    dcg = float((gains * discounts).sum())
    ideal = np.sort(np.array(list(judgments.values()), dtype=np.float64))[::-1][: len(page)]
    idcg = float((ideal * discounts[: len(ideal)]).sum())
    ndcg = dcg / idcg if idcg > 0 else 0.0
    if diversity <= 0.0 or mu <= 0.0:
        return ndcg
    variety = 0.0
    if c.embeddings is not None:
        variety += intra_list_distance(c.embeddings[page])
    if c.brands is not None:
        variety += coverage(c.brands[page]) / PAGE
    return ndcg + mu * diversity * variety


def _log_prob(
    values: torch.Tensor, slope: torch.Tensor, page: SampledPage, diversity: float,
    temperature: float,
) -> torch.Tensor:  # fmt: skip
    w = values + float(fusion_knob(diversity)) * slope
    feats = torch.from_numpy(page.features)
    logits = (feats @ w + torch.from_numpy(page.tiers)) / temperature  # (T, n)
    picks = torch.from_numpy(page.order)
    chosen = logits.gather(1, picks[:, None])[:, 0]
    return (chosen - torch.logsumexp(logits, dim=1)).sum()


def train_policy(
    train_lists: Sequence[RerankContext],
    valid_lists: Sequence[RerankContext],
    cfg: TrainConfig,
    policy: PolicyConfig = PolicyConfig(),
    init: FusionWeights = DEFAULT_WEIGHTS,
    version: str = "learned",
    progress: Callable[[str], None] | None = None,
    select: Callable[[FusionWeights], float] | None = None,
) -> TrainResult:
    """Train from ``init`` by policy gradient; returns the best validation epoch's weights.

    ``select``: the validation score (higher is better); without it, the mean greedy reward
    on the validation lists at the knob grid.
    """
    if not train_lists or not valid_lists:
        raise ValueError("training needs non-empty train and validation lists")
    rng, pinned, values, slope = parameters(init, cfg.seed)
    optimiser = torch.optim.Adam([values, slope], lr=cfg.lr)
    grid = np.asarray(cfg.knob_grid)
    valid_knobs = [float(grid[i % len(grid)]) for i in range(len(valid_lists))]

    def greedy_reward(ctx: RerankContext, d: float, weights: FusionWeights) -> float:
        k = min(PAGE, len(ctx.candidates))
        knobs = Knobs(diversity=d, strategy="fusion")
        order = rerank(ctx.candidates, k, knobs, user=ctx.user, weights=weights).order
        return page_reward(order, ctx, d, policy.mu)

    def quality(weights: FusionWeights) -> float:
        if select is not None:
            return select(weights)
        pairs = zip(valid_lists, valid_knobs, strict=True)
        rewards = [greedy_reward(c, d, weights) for c, d in pairs]
        return float(np.mean(rewards))

    start_score = quality(to_weights(values, slope, version))
    keeper = BestEpoch(start_score, values, slope, cfg.patience, cfg.log_dir, progress)
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(train_lists))
        knobs = rng.choice(grid, size=len(train_lists))
        advantages: list[float] = []
        for start in range(0, len(order), cfg.batch):
            current = to_weights(values, slope, version)
            loss = torch.zeros(())
            count = 0
            for i in order[start : start + cfg.batch]:
                ctx, d = train_lists[int(i)], float(knobs[int(i)])
                k = min(PAGE, len(ctx.candidates))
                baseline = greedy_reward(ctx, d, current)
                for _ in range(policy.samples):
                    page = sample_page(ctx.candidates, k, d, current, policy.temperature, rng,
                                       user=ctx.user)  # fmt: skip
                    advantage = page_reward(page.order, ctx, d, policy.mu) - baseline
                    advantages.append(advantage)
                    if advantage != 0.0:
                        lp = _log_prob(values, slope, page, d, policy.temperature)
                        loss = loss - advantage * lp
                    count += 1
            if count == 0:
                continue
            optimiser.zero_grad()
            (loss / count).backward()
            if values.grad is not None:
                values.grad.masked_fill_(pinned, 0.0)
            optimiser.step()
            with torch.no_grad():
                values.masked_fill_(pinned, 0.0)
        score = quality(to_weights(values, slope, version))
        adv = np.asarray(advantages)
        row = {
            "epoch": float(epoch),
            "train/advantage": float(adv.mean()) if adv.size else 0.0,
            "train/improved": float((adv > 0).mean()) if adv.size else 0.0,
        }
        message = (
            f"epoch {epoch}: mean advantage {row['train/advantage']:+.4f}, sampled pages "
            f"better than greedy {row['train/improved']:.1%} | valid score {score:.4f}"
        )
        if keeper.record(epoch, row, score, message, values, slope):
            break
    return keeper.result(version)
