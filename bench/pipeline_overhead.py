"""Latency the divrank search pipeline adds, measured side by side in one run.

With ``--synthetic``, for the same query mix, each round runs (in rotating order, so drift
hits every variant):

- ``engine``: a plain search, ``size=10`` (what a frontend does today);
- ``engine_window``: a plain search, ``size=100`` (the window fetch alone);
- ``pipeline``: the same ``size=10`` search through the ``divrank`` pipeline as installed by
  ``divrank pipeline install`` (window 100; the window's vectors are read as binary by the
  plugin's fetch phase and sent as ``embedding_b64``; POST to the real sidecar, reorder, cut the
  page);
- ``pipeline_json``: the same with ``fetch_vectors: false`` on the window processor: vectors
  come through ``_source`` and are sent as JSON arrays (the wire format before ``embedding_b64``);
- ``pipeline_lookup``: the same, with ``send_embeddings: false`` (the window fetch leaves the
  vectors out; the sidecar reads them by id through its cache);
- ``sidecar``: the sidecar alone, posting the same 100 candidates directly (Python client, JSON
  vectors), and ``sidecar_b64`` the same candidates with ``embedding_b64``.

Added latency = ``pipeline - engine`` per query (paired), reported as p50/p99.

By default the bench runs on the real Home Depot index (``bench/pipeline_real_index.py``: real
mapping, vectors and titles; BM25, k-NN and hybrid dev queries; OpenSearch's native MMR beside
the pipeline). ``--synthetic`` runs the variants above on a throw-away random index with
384-dimension vectors instead. The sidecar is started on a free port unless ``--sidecar-url``
is given.

Usage: ``python bench/pipeline_overhead.py [--quick] [--synthetic] [--json PATH]``
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.helpers import streaming_bulk

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from cli import pipeline  # noqa: E402
from cli.nodes import sidecar as sidecar_process  # noqa: E402
from config.settings import get_settings  # noqa: E402
from indexer.mapping import item_index_body  # noqa: E402

WORDS = [
    "toner", "cartridge", "printer", "laser", "inkjet", "black", "cyan", "magenta", "yellow",
    "photo", "paper", "cable", "usb", "adapter", "charger", "battery", "laptop", "notebook",
    "mouse", "keyboard", "monitor", "screen", "stand", "dock", "hub", "memory", "card", "drive",
    "ssd", "disk", "case", "bag", "sleeve", "speaker", "headset", "microphone", "camera", "lens",
]
CATEGORIES = ("printing/toner", "printing/ink", "computers/laptops", "computers/accessories",
              "storage/ssd", "audio/headsets", "photo/cameras", "cables/usb")
BRANDS = ("hp", "canon", "epson", "brother", "lenovo", "dell", "logitech", "samsung", "sony")


def _load(client: OpenSearch, index: str, n_docs: int, dim: int, seed: int) -> None:
    client.indices.create(index=index, body=item_index_body(dim, {"bench": index}))
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n_docs, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    def actions() -> Any:
        for i in range(n_docs):
            words = rng.choice(WORDS, size=6, replace=False)
            yield {
                "_index": index, "_id": f"b{i}",
                "title": " ".join(words),
                "category": CATEGORIES[i % len(CATEGORIES)],
                "brand": BRANDS[int(rng.integers(len(BRANDS)))],
                "price": float(np.round(rng.uniform(5, 500), 2)),
                "embedding": [round(float(x), 6) for x in vectors[i]],
            }

    for ok, item in streaming_bulk(client, actions(), chunk_size=200, raise_on_error=False):
        if not ok:
            raise SystemExit(f"bulk failed: {item}")
    client.indices.refresh(index=index)


def _queries(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed + 1)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 3)), replace=False))
            for _ in range(n)]


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(_pct(values, 50), 3), "p90_ms": round(_pct(values, 90), 3),
            "p99_ms": round(_pct(values, 99), 3), "mean_ms": round(statistics.fmean(values), 3)}


def synthetic_main(args: argparse.Namespace) -> None:
    """The throw-away random index (``--synthetic``): the wire formats side by side."""
    n_docs, n_queries, warmup = (600, 150, 20) if args.quick else (3000, 600, 50)
    engine_url = get_settings().opensearch_url.rstrip("/")
    client = OpenSearch(engine_url, timeout=60)
    tag = f"bench-pipe-{uuid.uuid4().hex[:8]}"
    index, pipe = f"{tag}-items", f"{tag}-pipe"
    sidecar = ExitStack()
    sidecar_url = args.sidecar_url
    try:
        if sidecar_url is None:
            env = {"DIVRANK_OPENSEARCH_URL": engine_url}
            sidecar_url = sidecar.enter_context(sidecar_process.throwaway(env=env)).url
        print(f"loading {n_docs} docs (dim {args.dim}) into {index} ...")
        _load(client, index, n_docs, args.dim, seed=3)
        pipes = {"pipeline": pipe, "pipeline_json": f"{pipe}-json",
                 "pipeline_lookup": f"{pipe}-lookup"}
        for variant, name in pipes.items():
            config = pipeline.PipelineConfig(
                name=name, sidecar_url=sidecar_url, window_size=args.window,
                connect_timeout_ms=500, read_timeout_ms=5000,
                send_embeddings=variant != "pipeline_lookup")
            if variant == "pipeline_json":
                body = pipeline.pipeline_body(config)
                body["request_processors"][0]["divrank_window"]["fetch_vectors"] = False
                client.transport.perform_request("PUT", f"/_search/pipeline/{name}", body=body)
            else:
                pipeline.install(client, config)
        queries = _queries(n_queries + warmup, seed=3)
        http = httpx.Client(base_url=engine_url, timeout=30)
        side = httpx.Client(base_url=sidecar_url, timeout=30)

        def engine_search(q: str, size: int, pipe_name: str | None) -> tuple[float, dict[str, Any]]:
            body = {"size": size, "query": {"match": {"title": q}}}
            params = {"search_pipeline": pipe_name} if pipe_name else {}
            t0 = time.perf_counter()
            resp = http.post(f"/{index}/_search", params=params, json=body)
            dt = (time.perf_counter() - t0) * 1000
            resp.raise_for_status()
            return dt, resp.json()

        def sidecar_call(q: str, window_resp: dict[str, Any], b64: bool) -> float:
            def vector(values: list[float]) -> dict[str, Any]:
                if not b64:
                    return {"embedding": values}
                raw = np.asarray(values, dtype="<f4").tobytes()
                return {"embedding_b64": base64.b64encode(raw).decode("ascii")}

            cands = [{"id": h["_id"], "score": h["_score"], **vector(h["_source"]["embedding"]),
                      "category": h["_source"]["category"], "brand": h["_source"]["brand"],
                      "price": h["_source"]["price"]} for h in window_resp["hits"]["hits"]]
            if not cands:
                return float("nan")
            body = json.dumps({"query": q, "index": index, "candidates": cands, "k": len(cands),
                               "knobs": {"diversity": 0.5, "strategy": "fusion"}}).encode()
            t0 = time.perf_counter()
            resp = side.post("/v1/rerank", content=body,
                             headers={"content-type": "application/json"})
            dt = (time.perf_counter() - t0) * 1000
            resp.raise_for_status()
            return dt

        variants = ("engine", "engine_window", *pipes, "sidecar", "sidecar_b64")
        timings: dict[str, list[float]] = {k: [] for k in variants}
        added: dict[str, list[float]] = {k: [] for k in pipes}
        plugin_took: dict[str, list[float]] = {k: [] for k in pipes}
        plugin_sidecar: dict[str, list[float]] = {k: [] for k in pipes}
        degraded = 0
        print(f"{n_queries} queries (+{warmup} warm-up), window {args.window}, "
              f"sidecar {sidecar_url}")
        for i, q in enumerate(queries):
            order: list[tuple[str, int, str | None]] = [
                ("engine", 10, None), ("engine_window", args.window, None),
                *((name, 10, pipe_name) for name, pipe_name in pipes.items())]
            order = order[i % len(order):] + order[:i % len(order)]
            got: dict[str, float] = {}
            exts: dict[str, dict[str, Any]] = {}
            window_resp: dict[str, Any] = {}
            for name, size, pipe_name in order:
                dt, resp = engine_search(q, size, pipe_name)
                got[name] = dt
                if name == "engine_window":
                    window_resp = resp
                if pipe_name:
                    exts[name] = resp.get("ext", {}).get("divrank", {})
            got["sidecar"] = sidecar_call(q, window_resp, b64=False)
            got["sidecar_b64"] = sidecar_call(q, window_resp, b64=True)
            if i < warmup or len(window_resp["hits"]["hits"]) < args.window:
                continue
            for name, dt in got.items():
                timings[name].append(dt)
            for name, ext in exts.items():
                degraded += bool(ext.get("degraded"))
                added[name].append(got[name] - got["engine"])
                plugin_took[name].append(float(ext.get("took_ms", 0)))
                plugin_sidecar[name].append(float(ext.get("sidecar_ms", 0)))

        summary = {name: _summary(vals) for name, vals in timings.items()}
        result = {
            "bench": "pipeline_overhead", "quick": args.quick, "docs": n_docs, "dim": args.dim,
            "window": args.window, "queries_measured": len(timings["engine"]),
            "degraded": degraded,
            "latency": summary,
            "added_ms": {k: _summary(v) for k, v in added.items()},
            "plugin_took_ms": {k: _summary(v) for k, v in plugin_took.items()},
            "plugin_sidecar_ms": {k: _summary(v) for k, v in plugin_sidecar.items()},
            "ratio_over_engine_p50": {
                k: round(summary[k]["p50_ms"] / summary["engine"]["p50_ms"], 3) for k in pipes},
            "target": {"added_p50_ms": 5.0, "added_p99_ms": 15.0},
        }
        print(f"{'variant':<15}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}")
        for name, s in summary.items():
            print(f"{name:<15}{s['p50_ms']:>9.2f}{s['p90_ms']:>9.2f}{s['p99_ms']:>9.2f}")
        for name in pipes:
            a = result["added_ms"][name]
            took = result["plugin_took_ms"][name]["p50_ms"]
            waited = result["plugin_sidecar_ms"][name]["p50_ms"]
            print(f"{name}: added (paired vs engine) p50 {a['p50_ms']:.2f} ms, "
                  f"p99 {a['p99_ms']:.2f} ms (target 5 / 15); processor p50 {took:.1f} ms, "
                  f"of which sidecar {waited:.1f} ms; "
                  f"ratio over engine p50 {result['ratio_over_engine_p50'][name]:.2f}")
        print(f"degraded responses: {degraded}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2))
            print(f"wrote {args.json}")
    finally:
        try:
            for name in (pipe, f"{pipe}-json", f"{pipe}-lookup"):
                pipeline.delete(client, name)
        finally:
            client.indices.delete(index=index, ignore_unavailable=True)
            sidecar.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer queries")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--sidecar-url", help="use a running sidecar instead of starting one")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--synthetic", action="store_true",
                        help="a throw-away random index instead of the Home Depot one")
    parser.add_argument("--dim", type=int, default=384, help="with --synthetic: vector size")
    parser.add_argument("--alias", default="homedepot-bench",
                        help="the real index (built from the Home Depot preset when missing)")
    parser.add_argument("--mmr-alias", default="homedepot-eval",
                        help="where native MMR runs (it reads vectors from _source)")
    parser.add_argument("--queries", type=int, default=0, help="measured queries per kind")
    parser.add_argument("--storage", choices=("float32", "byte"), default="float32",
                        help="the real index's vector storage (byte: homedepot-bench-byte)")
    args = parser.parse_args()
    if args.synthetic:
        synthetic_main(args)
    else:
        from pipeline_real_index import real_main

        real_main(args)


if __name__ == "__main__":
    main()
