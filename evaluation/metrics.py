"""Ranking metrics of a set of pages against graded judgments, computed with ranx.

Pages are ranked item-id lists (best first). ``judgments`` holds integer gains with 0 for
"judged, not relevant"; ranx counts gain >= 1 as relevant for Recall and MRR and uses the
gains linearly in NDCG. With shallow judgments two more numbers matter: judged@k (share of
the page that has any judgment) and NDCG over the condensed page, i.e. with unjudged items
removed (Sakai 2007), so a diversified page is not punished for items nobody rated.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from ranx import Qrels, Run, evaluate

__all__ = ["RANKING_METRICS", "judged_at_k", "ranking_metrics"]

RANKING_METRICS = ("ndcg@10", "recall@10", "mrr@10", "judged@10", "ndcg_judged@10")


def judged_at_k(page: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """Share of the first ``k`` items of the page that carry a judgment (any gain, even 0)."""
    top = list(page)[:k]
    if not top:
        return 0.0
    return sum(1 for item in top if item in judged) / len(top)


def ranking_metrics(
    judgments: Mapping[str, Mapping[str, int]],
    pages: Mapping[str, Sequence[str]],
    k: int = 10,
) -> dict[str, npt.NDArray[np.float64]]:
    """Per-request NDCG@k, Recall@k, MRR@k, judged@k and condensed NDCG@k.

    Both mappings are keyed by request id; requests without a positive judgment or without
    a page are a ValueError (they would make the averages mean different things).
    """
    qids = list(pages)
    missing = [q for q in qids if q not in judgments]
    if missing:
        raise ValueError(f"{len(missing)} pages have no judgments, e.g. {missing[:3]}")
    empty = [q for q in qids if not pages[q]]
    if empty:
        raise ValueError(f"{len(empty)} pages are empty, e.g. {empty[:3]}")
    hopeless = [q for q in qids if not any(g > 0 for g in judgments[q].values())]
    if hopeless:
        raise ValueError(f"{len(hopeless)} requests have no relevant item, e.g. {hopeless[:3]}")
    if not qids:
        return {name: np.zeros(0) for name in _names(k)}

    qrels = Qrels.from_dict({q: {d: int(g) for d, g in judgments[q].items()} for q in qids})
    plain = _run({q: list(pages[q])[:k] for q in qids})
    names = [f"ndcg@{k}", f"recall@{k}", f"mrr@{k}"]
    _evaluate(qrels, plain, names)
    out = {name: np.array([plain.scores[name][q] for q in qids]) for name in names}

    condensed_pages = {q: [d for d in list(pages[q])[:k] if d in judgments[q]] for q in qids}
    with_judged = [q for q in qids if condensed_pages[q]]
    condensed = np.zeros(len(qids))
    if with_judged:
        sub_qrels = Qrels.from_dict(
            {q: {d: int(g) for d, g in judgments[q].items()} for q in with_judged}
        )
        sub_run = _run({q: condensed_pages[q] for q in with_judged})
        _evaluate(sub_qrels, sub_run, [f"ndcg@{k}"])
        by_q = sub_run.scores[f"ndcg@{k}"]
        condensed = np.array([by_q.get(q, 0.0) for q in qids])
    out[f"judged@{k}"] = np.array([judged_at_k(pages[q], judgments[q], k) for q in qids])
    out[f"ndcg_judged@{k}"] = condensed
    return out


def _evaluate(qrels: Qrels, run: Run, names: list[str]) -> None:
    """ranx on one thread (the machine is shared); its numba int-cast warning is noise here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="unsafe cast")
        evaluate(qrels, run, names, threads=1)


def _run(pages: Mapping[str, Sequence[str]]) -> Run:
    """A ranx run whose scores reproduce the page order exactly (k, k-1, ... 1)."""
    return Run.from_dict(
        {q: {d: float(len(page) - i) for i, d in enumerate(page)} for q, page in pages.items()}
    )


def _names(k: int) -> list[str]:
    return [f"ndcg@{k}", f"recall@{k}", f"mrr@{k}", f"judged@{k}", f"ndcg_judged@{k}"]
