"""The pipeline's added latency on the real Home Depot index, paired per query.

Run through ``python bench/pipeline_overhead.py`` (the default mode). Two indices of the
same 40,873 Home Depot products (MiniLM vectors, real titles), each built once with the indexer's
code when missing and then reused: ``homedepot-bench``, as ``divrank index`` writes it (vectors
out of ``_source``), where plain searches and the pipeline run; and ``homedepot-eval`` (what
``divrank eval`` builds: vectors also in ``_source``), where OpenSearch's native MMR runs, since
it reads vectors from ``_source``. Each is paired with a plain search on its own index.
Queries are the dev set's real search terms; k-NN and hybrid queries carry their MiniLM vector
(from the embedding cache). For each query every variant runs once, in an order that rotates
from query to query, so drift on this shared machine hits every variant alike:

- ``bm25``: ``match`` on title, size 10, no pipeline (what a frontend sends today);
- ``bm25_window``: the same with size = window (the window fetch alone);
- ``bm25_pipeline_d0`` / ``bm25_pipeline``: through the ``divrank`` pipeline at diversity 0 and
  0.15;
- ``knn``: k-NN (k = window), size 10; ``knn_mmr``: the same with OpenSearch's native MMR over
  the window (``ext.mmr``, candidates = window); ``knn_pipeline``: through the pipeline;
- ``hybrid``: ``bool.should`` of the title match and the k-NN clause, size 10;
  ``hybrid_pipeline``: through the pipeline;
- ``bm25_lookup`` / ``knn_lookup``: ``bm25_pipeline`` / ``knn_pipeline`` through a second
  pipeline installed with ``send_embeddings: false``: the window leaves its vectors in the
  engine and the sidecar reads them from memory (it runs with ``DIVRANK_PRELOAD_VECTORS`` = the
  bench alias, so every vector is read once at its start);
- ``bm25_stored`` / ``knn_stored``: the same through a pipeline with ``lean_window: false``:
  the window read with its stored fields (``_id``, ``_source``), as before the lean window.

With ``--storage byte`` the main index is ``homedepot-bench-byte``, written with ``divrank index
--storage byte`` (int8 vectors, kept in ``_source``): plain k-NN searches send the query vector
quantised by hand, the pipeline rows send the model's floats and the plugin quantises them
(``byte_query_vectors``), as a frontend would; native MMR still runs on the float index.

The pipelines are installed as ``divrank pipeline install --alias`` installs them: the index
has the indexer's ``item_id``, so the lean window is on (doc values only, the page's
``_source`` read after re-ranking) except in the ``*_stored`` rows.

Every search asks for the fields a results page shows (``_source``: title, brand, category,
price). Added latency = variant − its plain peer per query (p50/p99), and the ratio of
divrank's added k-NN latency to native MMR's.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import statistics
import time
import uuid
import zipfile
from typing import Any

import httpx
import numpy as np
from opensearchpy import OpenSearch

from cli import pipeline
from cli.nodes import sidecar as sidecar_process
from config.settings import Settings, get_settings
from indexer.projection import byte_scale, to_bytes

PAGE_SOURCE = ["title", "brand", "category", "price"]


def _ensure_index(
    client: OpenSearch, alias: str, settings: Settings, source_vectors: bool, piped: bool,
    storage: str = "float32",
) -> int:  # fmt: skip
    """Documents behind ``alias``; indexes the Home Depot preset there first when missing, or
    (``piped``: the pipeline runs on it) again when written before the indexer's ``item_id``."""
    exists = client.indices.exists_alias(name=alias)
    if exists and piped and not pipeline.lean_window_ready(client, alias):
        print(f"{alias} has no item_id doc values (written by an older indexer): rebuilding")
        client.indices.delete(index=",".join(pipeline.resolve_indices(client, alias)))
    if not client.indices.exists_alias(name=alias):
        from evaluation.datasets import get_loader
        from evaluation.indexing import ensure_indexed

        print(f"building {alias} from the Home Depot preset (once) ...")
        data = get_loader("homedepot").load(settings.shared_data, settings.cache_dir)
        ensure_indexed(client, data.catalog, alias, settings, "homedepot",
                       source_vectors=source_vectors, storage=storage)  # fmt: skip
    return int(client.count(index=alias)["count"])


def _dev_queries(settings: Settings, n: int, seed: int) -> list[str]:
    path = settings.shared_data / "homedepot" / "homedepot_dev.csv.zip"
    with zipfile.ZipFile(path) as zf:
        member = next(m for m in zf.namelist() if m.endswith(".csv"))
        with zf.open(member) as raw:
            terms = sorted({row["search_term"].strip()
                            for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
                            if row["search_term"].strip()})  # fmt: skip
    rng = np.random.default_rng(seed)
    return [terms[i] for i in rng.permutation(len(terms))[:n]]


def _query_vectors(texts: list[str], settings: Settings) -> np.ndarray:
    from evaluation.indexing import CachedEncoder

    return np.asarray(CachedEncoder(settings)(texts), dtype=np.float32)


def _int8(vector: np.ndarray) -> list[int]:
    """A query vector as a byte index takes it: scaled by its largest component to 127 (the
    indexer's quantiser with the vector's own scale, as the plugin quantises queries)."""
    as_bytes: list[int] = to_bytes(vector, byte_scale(vector)).astype(int).tolist()
    return as_bytes


def _bodies(
    text: str, vector: list[float], window: int, plain: list[int] | None = None
) -> dict[str, tuple[dict[str, Any], str]]:
    """Variant → (search body, which index: ``main`` or ``mmr``). ``plain``: the vector plain
    searches on the main index send (a byte index's ints); default ``vector``."""
    match = {"match": {"title": text}}
    knn = {"knn": {"embedding": {"vector": vector, "k": window}}}
    hybrid = {"bool": {"should": [match, knn]}}
    knn_plain = knn if plain is None else {"knn": {"embedding": {"vector": plain, "k": window}}}
    hybrid_plain = hybrid if plain is None else {"bool": {"should": [match, knn_plain]}}

    def body(query: dict[str, Any], size: int = 10, **ext: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"size": size, "query": query, "_source": PAGE_SOURCE}
        if ext:
            out["ext"] = ext
        return out

    return {
        "bm25": (body(match), "main"),
        "bm25_window": (body(match, window), "main"),
        "bm25_pipeline_d0": (body(match, divrank={"diversity": 0.0}), "main"),
        "bm25_pipeline": (body(match, divrank={"diversity": 0.15}), "main"),
        "knn": (body(knn_plain), "main"),
        "knn_pipeline": (body(knn, divrank={"diversity": 0.5}), "main"),
        "knn_on_mmr_index": (body(knn), "mmr"),
        "knn_mmr": (body(knn, mmr={"diversity": 0.5, "candidates": window}), "mmr"),
        "hybrid": (body(hybrid_plain), "main"),
        "hybrid_pipeline": (body(hybrid, divrank={"diversity": 0.15}), "main"),
        "bm25_lookup": (body(match, divrank={"diversity": 0.15}), "main"),
        "knn_lookup": (body(knn, divrank={"diversity": 0.5}), "main"),
        "bm25_stored": (body(match, divrank={"diversity": 0.15}), "main"),
        "knn_stored": (body(knn, divrank={"diversity": 0.5}), "main"),
    }


# variant -> the pipeline it runs through (suffix of the bench's pipeline name)
PIPED = {"bm25_pipeline_d0": "", "bm25_pipeline": "", "knn_pipeline": "", "hybrid_pipeline": "",
         "bm25_lookup": "-lookup", "knn_lookup": "-lookup", "bm25_stored": "-stored",
         "knn_stored": "-stored"}  # fmt: skip
PEERS = {
    "bm25_window": "bm25", "bm25_pipeline_d0": "bm25", "bm25_pipeline": "bm25",
    "knn_pipeline": "knn", "knn_mmr": "knn_on_mmr_index", "hybrid_pipeline": "hybrid",
    "bm25_lookup": "bm25", "knn_lookup": "knn", "bm25_stored": "bm25", "knn_stored": "knn",
}  # fmt: skip


def _plugin_stats(http: httpx.Client) -> dict[str, float]:
    """The node's divrank counters: searches timed, and mean ms in the processor and sidecar."""
    stats = http.get("/_plugins/divrank/stats").raise_for_status().json()
    return {key: float(stats[key]) for key in
            ("processed", "processor_mean_ms", "sidecar_calls", "sidecar_mean_ms")}  # fmt: skip


def _spent(before: dict[str, float], after: dict[str, float], part: str) -> float:
    """ms the one search between two stats reads spent in ``part`` (processor or sidecar)."""
    count = "processed" if part == "processor" else "sidecar_calls"
    mean = f"{part}_mean_ms"
    return after[count] * after[mean] - before[count] * before[mean]


def _summary(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values)
    return {"p50_ms": round(float(np.percentile(arr, 50)), 3),
            "p90_ms": round(float(np.percentile(arr, 90)), 3),
            "p99_ms": round(float(np.percentile(arr, 99)), 3),
            "mean_ms": round(statistics.fmean(values), 3)}  # fmt: skip


def real_main(args: argparse.Namespace) -> None:
    settings = get_settings()
    engine_url = settings.opensearch_url.rstrip("/")
    client = OpenSearch(engine_url, timeout=120)
    byte = args.storage == "byte"
    if byte and args.alias == "homedepot-bench":
        args.alias = "homedepot-bench-byte"
    docs = _ensure_index(client, args.alias, settings, source_vectors=False, piped=True,
                         storage=args.storage)  # fmt: skip
    _ensure_index(client, args.mmr_alias, settings, source_vectors=True, piped=False)
    n_queries = args.queries or (120 if args.quick else 400)
    warmup = 20 if args.quick else 40
    texts = _dev_queries(settings, n_queries + warmup, seed=7)
    vectors = _query_vectors(texts, settings)
    pipe = f"bench-real-{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        sidecar_url = args.sidecar_url or stack.enter_context(
            sidecar_process.throwaway(env={"DIVRANK_OPENSEARCH_URL": engine_url,
                                           "DIVRANK_PRELOAD_VECTORS": args.alias})
        ).url  # fmt: skip
        lean = pipeline.lean_window_ready(client, args.alias)
        for suffix, send, leaned in (("", True, lean), ("-lookup", False, lean),
                                     ("-stored", True, False)):  # fmt: skip
            pipeline.install(client, pipeline.PipelineConfig(
                name=pipe + suffix, sidecar_url=sidecar_url, window_size=args.window,
                connect_timeout_ms=500, read_timeout_ms=5000, send_embeddings=send,
                lean_window=leaned, byte_query_vectors=byte))  # fmt: skip
            stack.callback(pipeline.delete, client, pipe + suffix)
        http = stack.enter_context(httpx.Client(base_url=engine_url, timeout=30))
        print(f"{docs} docs behind {args.alias}; {n_queries} dev queries (+{warmup} warm-up), "
              f"window {args.window}, sidecar {sidecar_url}")
        timings: dict[str, list[float]] = {}
        added: dict[str, list[float]] = {k: [] for k in PEERS}
        degraded: dict[str, int] = {}
        inside: dict[str, dict[str, list[float]]] = {n: {"took": [], "sidecar": []} for n in PIPED}
        stats = _plugin_stats(http)
        for i, (text, vec) in enumerate(zip(texts, vectors, strict=True)):
            plain = _int8(vec) if byte else None
            variants = list(_bodies(text, [float(x) for x in vec], args.window, plain).items())
            shift = i % len(variants)
            got: dict[str, float] = {}
            for name, (body, where) in variants[shift:] + variants[:shift]:
                piped = name in PIPED
                params = {"search_pipeline": pipe + PIPED[name] if piped else "_none"}
                alias = args.alias if where == "main" else args.mmr_alias
                t0 = time.perf_counter()
                resp = http.post(f"/{alias}/_search", params=params, json=body)
                got[name] = (time.perf_counter() - t0) * 1000
                resp.raise_for_status()
                info = resp.json().get("ext", {}).get("divrank", {})
                if piped and (info.get("degraded") or not info.get("applied")):
                    key = f"{name}:{info.get('reason')}"
                    degraded[key] = degraded.get(key, 0) + 1
                if piped:  # the plugin's own clock, to the microsecond (outside the timing)
                    before, stats = stats, _plugin_stats(http)
                    if i >= warmup and stats["processed"] > before["processed"]:
                        inside[name]["took"].append(_spent(before, stats, "processor"))
                        inside[name]["sidecar"].append(_spent(before, stats, "sidecar"))
            if i < warmup:
                continue
            for name, dt in got.items():
                timings.setdefault(name, []).append(dt)
            for name, peer in PEERS.items():
                added[name].append(got[name] - got[peer])
    summary = {name: _summary(v) for name, v in timings.items()}
    added_s = {name: _summary(v) for name, v in added.items()}
    mmr_p50, ours_p50 = added_s["knn_mmr"]["p50_ms"], added_s["knn_pipeline"]["p50_ms"]
    lookup_p50 = added_s["knn_lookup"]["p50_ms"]
    stored_p50 = added_s["knn_stored"]["p50_ms"]
    result = {
        "bench": "pipeline_overhead", "index": args.alias, "storage": args.storage,
        "mmr_index": args.mmr_alias,
        "docs": docs, "window": args.window,
        "queries_measured": n_queries, "latency": summary, "added_ms": added_s,
        "degraded": degraded,
        "processor_ms": {n: {k: _summary(v) for k, v in parts.items() if v}
                         for n, parts in inside.items()},
        "knn_added_ratio_divrank_over_native_mmr": round(ours_p50 / mmr_p50, 3),
        "knn_lookup_added_ratio_over_native_mmr": round(lookup_p50 / mmr_p50, 3),
        "knn_stored_added_ratio_over_native_mmr": round(stored_p50 / mmr_p50, 3),
        "target": {"bm25_added_p50_ms": 5.0, "bm25_added_p99_ms": 15.0,
                   "knn_added_ratio_max": 1.0},
    }  # fmt: skip
    head = ("variant", "p50 ms", "p90 ms", "p99 ms", "added p50", "added p99")
    print(f"{head[0]:<18}{head[1]:>9}{head[2]:>9}{head[3]:>9}{head[4]:>11}{head[5]:>11}")
    for name, s in summary.items():
        a = added_s.get(name)
        extra = f"{a['p50_ms']:>11.2f}{a['p99_ms']:>11.2f}" if a else ""
        print(f"{name:<18}{s['p50_ms']:>9.2f}{s['p90_ms']:>9.2f}{s['p99_ms']:>9.2f}{extra}")
    print(f"k-NN: divrank adds {ours_p50:.2f} ms p50, native MMR adds {mmr_p50:.2f} ms: "
          f"ratio {result['knn_added_ratio_divrank_over_native_mmr']:.2f} (target <= 1.0); "
          f"without vectors in the body (preloaded sidecar) {lookup_p50:.2f} ms: ratio "
          f"{result['knn_lookup_added_ratio_over_native_mmr']:.2f}; the window with stored "
          f"fields {stored_p50:.2f} ms: ratio "
          f"{result['knn_stored_added_ratio_over_native_mmr']:.2f}")
    for name, parts in result["processor_ms"].items():
        if "took" in parts:
            print(f"{name}: response processor p50 {parts['took']['p50_ms']:.2f} ms, of which "
                  f"the sidecar call {parts['sidecar']['p50_ms']:.2f} ms (plugin stats)")
    print(f"degraded or not applied: {degraded or 'none'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


__all__ = ["real_main"]

if __name__ == "__main__":  # pragma: no cover - run through pipeline_overhead.py
    raise SystemExit("run: python bench/pipeline_overhead.py [--quick] [--json PATH]")

