"""How much two engines' candidates agree, per request (same item table, same requests).

``divrank eval --engine elasticsearch`` compares every strategy on Elasticsearch's candidates;
this says how close those are to OpenSearch's for the same retrieval, so the two reports can
be read side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluation.episodes import EpisodeSet

__all__ = ["Overlap", "candidate_overlap"]


@dataclass(frozen=True)
class Overlap:
    requests: int  # requests present in both sets
    jaccard: float  # mean |A ∩ B| / |A ∪ B| of the whole windows
    top_k: float  # mean |A_k ∩ B_k| / k of the first k candidates
    same_first: float  # share of requests with the same first candidate
    k: int


def candidate_overlap(a: EpisodeSet, b: EpisodeSet, k: int = 10) -> Overlap:
    """Window and top-``k`` agreement over the requests both sets have."""
    rows_b = {str(q): i for i, q in enumerate(b.qids)}
    jac, top, first = [], [], []
    for i, qid in enumerate(a.qids):
        j = rows_b.get(str(qid))
        if j is None:
            continue
        x = a.cand_item[a.cand_ptr[i] : a.cand_ptr[i + 1]]
        y = b.cand_item[b.cand_ptr[j] : b.cand_ptr[j + 1]]
        if x.size == 0 or y.size == 0:
            continue
        sx, sy = set(x.tolist()), set(y.tolist())
        jac.append(len(sx & sy) / len(sx | sy))
        top.append(len(set(x[:k].tolist()) & set(y[:k].tolist())) / k)
        first.append(float(x[0] == y[0]))
    if not jac:
        return Overlap(0, float("nan"), float("nan"), float("nan"), k)
    return Overlap(len(jac), float(np.mean(jac)), float(np.mean(top)), float(np.mean(first)), k)
