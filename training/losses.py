"""The training objective: listwise relevance over the greedy steps + the seed's homogeneity terms.

At step t of list b the model scores the remaining candidates ``s = x @ w(d)`` with
``w(d) = values + fusion_knob(d)·slope`` (exactly the served fusion) and ``p = softmax(s)``:

- ``L_rel``: ListNet-style cross-entropy between the relevance target (``2^gain - 1`` over the
  remaining candidates, judged ones only with shallow labels) and ``softmax(s)`` over the same
  candidates (Cao et al. 2007, applied per greedy step as in listwise "next-item" training).
- ``L_hom``: the expected homogeneity of the next pick under ``p``: similarity to what is
  already on the page (``redundancy``), category and brand concentration (``*_pressure``) and
  closeness to the user's past beyond the window's norm (``centroid_excess``), each with a
  term weight.
- ``L_div``: the expected DPP volume loss of the next pick (``-dpp_gain``, 0 = new direction).

Total: ``L_rel + g(d)·(λ·L_hom + μ·L_div)`` with ``g(d) = d^γ``, so the knob at serving time
means what it meant in training: at d = 0 only relevance is learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reranker.core.features import FEATURE_NAMES
from reranker.core.knob import fusion_knob

__all__ = ["LossConfig", "LossParts", "fusion_loss"]

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass(frozen=True)
class LossConfig:
    lam: float = 1.0  # λ, weight of L_hom
    mu: float = 0.5  # μ, weight of L_div
    redundancy: float = 1.0
    category: float = 0.5
    brand: float = 0.5
    centroid: float = 0.5
    gamma: float = 1.0  # knob coupling g(d) = d^γ
    l2: float = 1e-3


@dataclass(frozen=True)
class LossParts:
    total: torch.Tensor
    rel: torch.Tensor
    hom: torch.Tensor
    div: torch.Tensor


def fusion_loss(
    values: torch.Tensor,
    slope: torch.Tensor,
    features: torch.Tensor,  # (B, T, N, F)
    available: torch.Tensor,  # (B, T, N) bool
    target: torch.Tensor,  # (B, N)
    judged: torch.Tensor,  # (B, N) bool
    diversity: torch.Tensor,  # (B,)
    cfg: LossConfig,
) -> LossParts:
    """Mean loss over the (list, step) pairs; steps with nothing relevant left skip L_rel."""
    # exactly the served mapping: w(d) = values + fusion_knob(d)·slope
    w = values[None, :] + fusion_knob(diversity)[:, None] * slope[None, :]  # (B, F)
    scores = torch.einsum("btnf,bf->btn", features, w)
    neg_inf = torch.finfo(scores.dtype).min
    live = available.any(dim=-1)  # (B, T) steps that exist

    masked = scores.masked_fill(~available, neg_inf)
    p = torch.softmax(masked, dim=-1) * available  # (B, T, N)

    rel_mask = available & judged[:, None, :]
    mass = target[:, None, :] * rel_mask
    has_target = mass.sum(-1) > 0
    q = mass / mass.sum(-1, keepdim=True).clamp_min(1e-12)
    log_p_rel = torch.log_softmax(scores.masked_fill(~rel_mask, neg_inf), dim=-1)
    ce = -(q * log_p_rel.masked_fill(~rel_mask, 0.0)).sum(-1)  # (B, T)
    rel = (ce * has_target).sum() / has_target.sum().clamp_min(1)

    expect = torch.einsum("btn,btnf->btf", p, features)  # E_p[x_f] per step
    hom_step = (
        cfg.redundancy * expect[..., _COL["redundancy"]]
        + cfg.category * expect[..., _COL["category_pressure"]]
        + cfg.brand * expect[..., _COL["brand_pressure"]]
        + cfg.centroid * expect[..., _COL["centroid_excess"]]
    )
    div_step = -expect[..., _COL["dpp_gain"]]
    g = diversity.clamp_min(0.0) ** cfg.gamma  # (B,)
    weight = g[:, None] * live
    count = live.sum().clamp_min(1)
    hom = (hom_step * weight).sum() / count
    div = (div_step * weight).sum() / count
    reg = cfg.l2 * (values.square().sum() + slope.square().sum())
    total = rel + cfg.lam * hom + cfg.mu * div + reg
    return LossParts(total, rel.detach(), hom.detach(), div.detach())
