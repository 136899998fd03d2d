"""How the single ``diversity`` knob (0 = relevance only, 1 = most diverse) drives every algorithm.

One table, so the knob means the same thing in MMR, DPP, fusion and the homogeneity constraints,
and so a small change of the knob is a small change of every parameter (no jump between 0 and
1e-6, unlike a DPP whose relevance exponent goes from "infinite" to 1 at the first step):

======================  ==========================================================================
MMR                     score = (1 - γ)·quality - γ·max_sim_to_selected, γ = 0.7·d. Relevance keeps
                        weight 0.3 at d = 1.
DPP (Chen et al. 2018)  maximise θ·Σ quality + (1 - θ)·log det(S_Y), θ = 1 - 0.6·d (θ = 1 at d = 0
                        is pure relevance, θ = 0.4 at d = 1 still rewards quality). Equivalent to
                        the kernel L = diag(q)·S·diag(q) with q_i = exp(α·quality_i),
                        α = θ / (2(1 - θ)).
near-duplicates         cosine above t(d) = 1 - (1 - threshold)·clip((d - 0.2) / 0.3, 0, 1) is
                        suppressed: nothing up to d = 0.2, then only exact copies, from d = 0.5
                        (where the caps start) the threshold. Colour and size variants are
                        judged relevant on Home Depot, so suppressing them earlier costs
                        relevance for little diversity.
caps (when not given)   none below d = 0.5; from there per brand max(2, ⌈k(1.5 - d)/2⌉) and
                        per category max(3, ⌈k(1.5 - d)/1.5⌉) (k = 10, d = 1: 3 and 4).
fusion                  each weight is ``values + g(d)·diversity_slope`` with g(d) = d^1.5
                        (see ``weights.py``): the tuned slopes are strong (at g = 1 the page is
                        nearly all diversity), so g spends more of the knob's travel where
                        relevance is still high, the range shoppers use.
======================  ==========================================================================
"""

from __future__ import annotations

import math
from typing import TypeVar

T = TypeVar("T")

__all__ = [
    "CAPS_FROM",
    "DEDUP_FROM",
    "DEDUP_RAMP",
    "DPP_THETA_MIN",
    "FUSION_KNOB_POWER",
    "MMR_GAMMA_MAX",
    "brand_cap",
    "category_cap",
    "dpp_theta",
    "duplicate_threshold",
    "fusion_knob",
    "mmr_gamma",
]

MMR_GAMMA_MAX = 0.7
DPP_THETA_MIN = 0.4
DEDUP_FROM = 0.2
DEDUP_RAMP = 0.3
CAPS_FROM = 0.5
FUSION_KNOB_POWER = 1.5  # chosen on the Home Depot validation frontier among 1, 1.5 and 2


def fusion_knob(diversity: T) -> T:
    """How far along its slopes the fusion is at knob ``diversity`` (0 -> 0, 1 -> 1).

    Works on floats and on arrays/tensors alike (the trainer applies it to a batch).
    """
    return diversity**FUSION_KNOB_POWER  # type: ignore[no-any-return, operator]


def mmr_gamma(diversity: float) -> float:
    """Weight of the redundancy term in MMR (relevance gets ``1 - γ``)."""
    return MMR_GAMMA_MAX * diversity


def dpp_theta(diversity: float) -> float:
    """Relevance share θ of the DPP objective (Chen, Zhang, Zhou 2018, section 4)."""
    return 1.0 - diversity * (1.0 - DPP_THETA_MIN)


def duplicate_threshold(diversity: float, threshold: float) -> float | None:
    """Cosine above which a candidate counts as a near-duplicate of a selected one (None = off)."""
    if diversity <= DEDUP_FROM or threshold >= 1.0:
        return None
    return 1.0 - (1.0 - threshold) * min(1.0, (diversity - DEDUP_FROM) / DEDUP_RAMP)


def brand_cap(diversity: float, k: int, explicit: int | None) -> int | None:
    """Most items of one brand on a page of ``k`` (None = no cap)."""
    if explicit is not None:
        return explicit if explicit < k else None
    if diversity < CAPS_FROM:
        return None
    cap = max(2, math.ceil(k * (1.5 - diversity) / 2.0))
    return cap if cap < k else None


def category_cap(diversity: float, k: int, explicit: int | None) -> int | None:
    """Most items of one category on a page of ``k`` (None = no cap)."""
    if explicit is not None:
        return explicit if explicit < k else None
    if diversity < CAPS_FROM:
        return None
    cap = max(3, math.ceil(k * (1.5 - diversity) / 1.5))
    return cap if cap < k else None
