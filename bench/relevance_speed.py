"""Learned relevance latency on real Home Depot windows, side by side with the fusion it feeds.

    .venv/bin/python bench/relevance_speed.py [--quick] [--json PATH] [--requests 300]
                                              [--retrieval bm25]

Inputs are the cached evaluation episodes (``divrank eval`` builds them against the real
engine): the engine's top-100 BM25 (or k-NN/hybrid) window per real query, with its titles,
brands and 384-d vectors. Per request, interleaved (one call each per round, so machine noise
hits all alike), single BLAS thread as in the sidecar:

- ``features``: ``relevance_features`` (title tokens cached after the first sight, as in the
  sidecar where titles recur);
- ``model``: features + predict (``RelevanceModel.score``), the whole added cost;
- ``predict``: the served predict alone on the window's features (the compiled trees,
  ``reranker/core/tree_ensemble.py``), timed before the other steps (the model's share of
  ``model``);
- ``lightgbm``: the peer: LightGBM's own ``Booster.predict`` on the same rows (same scores);
- ``fusion``: the core's default fusion at diversity 0.3 on the same window (for scale);
- ``fusion+model``: the model's scores, then the fusion over them.

Prints p50/p99 in µs and the ratio to ``fusion``. The shipped model is used unless
``--model PATH``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.settings import get_settings  # noqa: E402
from evaluation.episodes import EpisodeSet, ItemTable, episode_path, items_path  # noqa: E402
from evaluation.runner import sample  # noqa: E402
from evaluation.sweep import candidates_of  # noqa: E402
from reranker.core import Candidates, Knobs, Ranking, rerank  # noqa: E402
from reranker.core.relevance_features import relevance_features  # noqa: E402
from reranker.relevance_io import DEFAULT_RELEVANCE_MODEL, load_relevance_model  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--retrieval", default="bm25")
    parser.add_argument("--model", type=Path, default=DEFAULT_RELEVANCE_MODEL)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 requests, one round")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds = 100, 1

    cache = get_settings().cache_dir
    table = ItemTable.load(items_path(cache, "homedepot"))
    if table.titles is None:
        sys.exit("the cached item table has no titles: run `divrank eval --rebuild` first")
    episodes = sample(EpisodeSet.load(episode_path(cache, "homedepot", args.retrieval)),
                      "test", args.requests, 0)  # fmt: skip
    model = load_relevance_model(args.model)
    windows = []
    for ep in episodes:
        cands = candidates_of(ep, table)
        windows.append((ep.query, table.titles_of(ep.items), cands))
    knobs = Knobs(diversity=0.3, strategy="fusion")
    timings: dict[str, list[float]] = {"features": [], "model": [], "predict": [],
                                       "lightgbm": [], "fusion": [],
                                       "fusion+model": []}  # fmt: skip

    def timed(name: str, call: Callable[..., object], *args: object, **kw: object) -> None:
        start = time.perf_counter_ns()
        call(*args, **kw)
        timings[name].append((time.perf_counter_ns() - start) / 1e3)

    def fused(query: str, titles: list[str], cands: Candidates) -> Ranking:
        return rerank(replace(cands, relevance=model.score(query, titles, cands)), 10, knobs)

    with threadpool_limits(1):
        matrices = []
        for query, titles, cands in windows:  # warm-up: compile, fill the title cache
            fused(query, titles, cands)
            matrices.append(relevance_features(query, titles, cands, model.idf))
        for _ in range(args.rounds):
            for (query, titles, cands), matrix in zip(windows, matrices, strict=True):
                # predict first: repeated right after ``model`` on the same rows it runs
                # measurably faster than it does inside ``model`` (warm caches and branches)
                timed("predict", model.predict, matrix)
                timed("lightgbm", model.booster.predict, matrix, num_threads=1)
                timed("features", relevance_features, query, titles, cands, model.idf)
                timed("model", model.score, query, titles, cands)
                timed("fusion", rerank, cands, 10, knobs)
                timed("fusion+model", fused, query, titles, cands)
    n = statistics.median(len(c) for _, _, c in windows)
    print(
        f"learned relevance on {len(windows)} real {args.retrieval} windows (median "
        f"{n:.0f} candidates), {args.rounds} rounds, 1 BLAS thread, model {model.version}"
    )
    base = _pct(timings["fusion"], 50)
    print(f"{'step':14s} {'p50 µs':>9s} {'p99 µs':>9s} {'p50 / fusion':>13s}")
    figures = {}
    for name, values in timings.items():
        p50, p99 = _pct(values, 50), _pct(values, 99)
        figures[name] = {"p50_us": round(p50, 1), "p99_us": round(p99, 1)}
        print(f"{name:14s} {p50:9.0f} {p99:9.0f} {p50 / base:12.2f}x")
    if args.json:
        summary = {
            "model": model.version,
            "requests": len(windows),
            "retrieval": args.retrieval,
            "steps": figures,
        }
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
