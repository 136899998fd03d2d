"""Indexing throughput on the Icecat catalog: embedding items/s and bulk docs/s, side by side.

Embedding (title + description, the texts ``divrank index`` embeds):
- baseline: plain sentence-transformers, fp32, ``encode(batch_size=64)``;
- ours: ``indexer.embeddings.Embedder`` (``auto`` precision = bf16 on AVX512-BF16/AMX CPUs,
  batch 32, length-sorted chunks), and the opt-in ``int8`` path;
  each with its cosine to fp32 and the item-to-item recall@10 against fp32 neighbours.
Vector storage (brute force, no engine): recall@10 of PCA-128/64, int8 bytes and float16
against full fp32 vectors.
Bulk (precomputed vectors, fresh index each run, the real item mapping):
- baseline: ``helpers.streaming_bulk`` with opensearch-py's JSON serialiser, one request in flight;
- ours: ``indexer.bulk_writer.write_bulk`` (orjson, 2 requests in flight); also with
  ``--storage byte`` (int8 vectors: the graph compares bytes, and the ints stay in ``_source``
  with no filter), its k-NN recall read against the exact float neighbours;
- a reference, not a path: ours on the same documents without the vector field, so the cost of
  the vector (parse, ``_source`` filter, HNSW graph) is the difference between two rows.
Each row also gives the CPU it cost per document: the engine's (``_nodes/stats`` process CPU,
so anything else that node serves meanwhile counts too) and this process's (serialisation,
HTTP). On a CPU-bound box, cores / (engine + client CPU per doc) is the most docs/s any client
or setting can reach for that work; the bench prints it. Why it is the figure to watch (issue
#16, JFR on the 2-core box): the engine is CPU-bound on per-document work, 43% of it the HNSW
beam search of each insert, then text inversion, doc values, stored fields and the
``_source.excludes`` filter (the whole document parsed into a map and written again). A 3 GB
heap's indexing buffer holds ~60k of these documents, so below that nothing is flushed or
merged before the final refresh (0 of either at 38.8k docs): translog, merge-policy and buffer
settings leave the work unchanged.

Runs alternate between baseline and ours (the order reversed every other round) so load from
other processes hits both alike; the report gives medians and ratios. ``--quick`` is a short
run; ``--json PATH`` writes the figures.

    .venv/bin/python bench/index_throughput.py --quick --json bench/results/index_throughput.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from indexer.embeddings import Embedder, normalize_rows, resolve_model
from indexer.items import validate_items
from indexer.presets import icecat_items
from indexer.projection import byte_scale, fit_pca, recall_at_k, to_bytes, topk
from indexer.rejects import RejectLog


def _texts(n: int, offset: int = 0) -> tuple[list[Any], list[str]]:
    items = list(
        validate_items(itertools.islice(icecat_items(), offset, offset + n), RejectLog(None))
    )
    return items, [i.text for i in items]


def bench_embedding(texts: list[str], repeats: int) -> dict[str, Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    baseline = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    ours = Embedder(precision="auto")
    int8 = Embedder(precision="int8")

    def run_baseline(batch: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return baseline.encode(
                batch, batch_size=64, normalize_embeddings=True, show_progress_bar=False
            )

    runners = {
        "baseline_fp32_b64": run_baseline,
        f"ours_{ours.precision}": ours.encode_chunks,
        "ours_int8": int8.encode_chunks,
    }
    for fn in runners.values():  # warm-up (allocations, oneDNN kernels)
        fn(texts[:64])
    rates: dict[str, list[float]] = {k: [] for k in runners}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for name, fn in runners.items():
            started = time.perf_counter()
            out = fn(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
            vectors[name] = normalize_rows(np.asarray(out))
    ref = vectors["baseline_fp32_b64"]
    result: dict[str, Any] = {
        "texts": len(texts),
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
    }
    base_rate = statistics.median(rates["baseline_fp32_b64"])
    for name, values in rates.items():
        cos = np.sum(ref * vectors[name], axis=1)
        result[name] = {
            "items_per_s_median": round(statistics.median(values), 1),
            "items_per_s_all": [round(v, 1) for v in values],
            "ratio_vs_baseline": round(statistics.median(values) / base_rate, 2),
            "cosine_to_fp32_mean": round(float(cos.mean()), 5),
            "cosine_to_fp32_min": round(float(cos.min()), 5),
            "recall_at_10_vs_fp32": round(recall_at_k(ref, vectors[name], k=10), 4),
        }
    return result


def bench_storage(vectors: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {"vectors": int(vectors.shape[0])}
    for dim in (128, 64):
        proj = fit_pca(vectors, dim)
        out[f"pca_{dim}"] = {
            "recall_at_10": round(recall_at_k(vectors, proj.apply(vectors)), 4),
            "explained_variance": round(proj.explained_variance, 4),
            "bytes_per_vector": dim * 4,
        }
    out["byte_int8"] = {
        "recall_at_10": round(recall_at_k(vectors, to_bytes(vectors, byte_scale(vectors))), 4),
        "bytes_per_vector": vectors.shape[1],
    }
    out["float16"] = {
        "recall_at_10": round(
            recall_at_k(vectors, vectors.astype(np.float16).astype(np.float32)), 4
        ),
        "bytes_per_vector": vectors.shape[1] * 2,
    }
    out["float32"] = {"recall_at_10": 1.0, "bytes_per_vector": vectors.shape[1] * 4}
    return out


def bench_bulk(items: list[Any], vectors: np.ndarray, url: str, repeats: int) -> dict[str, Any]:
    from opensearchpy import OpenSearch, helpers

    from indexer.bulk_writer import vector_json, write_bulk
    from indexer.mapping import item_index_body

    client = OpenSearch(url, timeout=120)
    client.info()
    prefix = f"t-bench-idx-{uuid.uuid4().hex[:8]}"

    scale = byte_scale(vectors)
    int8 = to_bytes(vectors, scale)

    def fresh(tag: str, ef_construction: int = 100, source_vectors: bool | str | None = False
              ) -> str:  # fmt: skip
        """A fresh index; ``source_vectors=None`` drops the vector field (the reference row),
        ``"byte"`` is ``--storage byte`` (int8 graph, the ints kept in ``_source``)."""
        name = f"{prefix}-{tag}"
        client.indices.delete(index=name, ignore_unavailable=True)
        body = item_index_body(
            vectors.shape[1], {"kind": "bench"}, ef_construction=ef_construction,
            source_vectors=source_vectors is True,
            storage="byte" if source_vectors == "byte" else "float32",
        )
        if source_vectors is None:
            del body["mappings"]["properties"]["embedding"]
            body["mappings"].pop("_source", None)
        client.indices.create(index=name, body=body)
        return name

    def engine_cpu_s() -> float:
        nodes = client.nodes.stats(metric="process")["nodes"].values()
        return sum(n["process"]["cpu"]["total_in_millis"] for n in nodes) / 1000

    rng = np.random.default_rng(3)
    queries = rng.choice(len(items), 50, replace=False)
    truth = topk(vectors[queries], vectors, 10)
    ids = [it.id for it in items]

    def knn_recall(index: str, byte: bool = False) -> float:
        """Engine k-NN top 10 against the exact float neighbours (byte: the query quantised
        with the index's scale, as `divrank` queries a byte index)."""
        hits = 0
        for q, expected in zip(queries, truth, strict=True):
            query = vector_json(int8[q] if byte else vectors[q])
            body = {
                "size": 10,
                "_source": False,
                "query": {"knn": {"embedding": {"vector": query, "k": 10}}},
            }
            got = {h["_id"] for h in client.search(index=index, body=body)["hits"]["hits"]}
            hits += len(got & {ids[i] for i in expected})
        return hits / (10 * len(queries))

    def baseline(index: str) -> int:
        actions = (
            {"_index": index, "_id": it.id, "_source": it.source(vector_json(v))}
            for it, v in zip(items, vectors, strict=True)
        )
        return sum(ok for ok, _ in helpers.streaming_bulk(client, actions, chunk_size=500))

    def ours(index: str) -> int:
        docs = ((it.id, it.source(v)) for it, v in zip(items, vectors, strict=True))
        return write_bulk(client, index, docs, chunk_size=500, threads=2, progress=False).ok

    def ours_byte(index: str) -> int:
        docs = ((it.id, it.source(v)) for it, v in zip(items, int8, strict=True))
        return write_bulk(client, index, docs, chunk_size=500, threads=2, progress=False).ok

    def ours_without_vectors(index: str) -> int:
        docs = ((it.id, it.source(None)) for it in items)
        return write_bulk(client, index, docs, chunk_size=500, threads=2, progress=False).ok

    # The baseline writes the vectors into _source too (the item mapping before they moved
    # out); "ours" uses the item mapping as `divrank index` writes it today.
    variants = [
        ("baseline_streaming_json_ef100", baseline, 100, True),
        ("ours_orjson_parallel2_ef100_source_vectors", ours, 100, True),
        ("ours_orjson_parallel2_ef100", ours, 100, False),
        ("ours_orjson_parallel2_ef32", ours, 32, False),
        ("ours_orjson_parallel2_ef100_byte", ours_byte, 100, "byte"),
        ("reference_ours_no_vector_field", ours_without_vectors, 100, None),
    ]
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name, *_ in variants}
    recalls: dict[str, float | None] = {}
    try:
        for round_ in range(repeats):
            for n, (name, fn, ef, in_source) in enumerate(variants[:: -1 if round_ % 2 else 1]):
                index = fresh(f"v{n}", ef, in_source)
                engine0, client0, started = engine_cpu_s(), time.process_time(), time.perf_counter()
                written = fn(index)
                client.indices.refresh(index=index)  # graph segments flushed: part of the cost
                elapsed = time.perf_counter() - started
                engine_s, client_s = engine_cpu_s() - engine0, time.process_time() - client0
                assert written == len(items), (name, written)
                runs[name].append((len(items) / elapsed, engine_s, client_s))
                recalls[name] = (None if in_source is None
                                 else knn_recall(index, byte=in_source == "byte"))  # fmt: skip
                client.indices.delete(index=index)
    finally:
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    base = statistics.median(rate for rate, *_ in runs[variants[0][0]])
    cores = os.cpu_count() or 1

    def row(name: str, values: list[tuple[float, float, float]]) -> dict[str, Any]:
        rates = [rate for rate, *_ in values]
        engine_ms = 1000 * statistics.median(e for _, e, _ in values) / len(items)
        client_ms = 1000 * statistics.median(c for *_, c in values) / len(items)
        recall = recalls[name]
        return {
            "docs_per_s_median": round(statistics.median(rates), 1),
            "docs_per_s_all": [round(x, 1) for x in rates],
            "ratio_vs_baseline": round(statistics.median(rates) / base, 2),
            "engine_cpu_ms_per_doc": round(engine_ms, 3),
            "client_cpu_ms_per_doc": round(client_ms, 3),
            "cpu_bound_docs_per_s": round(cores * 1000 / (engine_ms + client_ms), 1),
            "knn_recall_at_10_vs_brute_force": None if recall is None else round(recall, 4),
        }

    return {"docs": len(items), "repeats": repeats, "cores": cores,
            **{name: row(name, values) for name, values in runs.items()}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer repeats")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--url", default=os.environ.get("DIVRANK_OPENSEARCH_URL", "http://127.0.0.1:9200")
    )
    parser.add_argument("--skip-bulk", action="store_true", help="no engine needed")
    parser.add_argument("--bulk-only", action="store_true", help="skip the embedding bench")
    args = parser.parse_args()
    n_embed, embed_repeats = (512, 3) if args.quick else (2048, 5)
    n_bulk, bulk_repeats = (3000, 2) if args.quick else (10000, 3)

    _, texts = _texts(n_embed, offset=5000)  # a slice the tests do not cache
    report: dict[str, Any] = {"quick": args.quick, "cpu_count": os.cpu_count()}
    emb = {} if args.bulk_only else bench_embedding(texts, embed_repeats)
    report["embedding"] = emb
    if emb:
        print(f"embedding {emb['texts']} Icecat texts x{embed_repeats} (items/s, median):")
    for name, r in emb.items():
        if isinstance(r, dict):
            print(
                f"  {name:22s} {r['items_per_s_median']:8.1f}  x{r['ratio_vs_baseline']:.2f}  "
                f"cos>= {r['cosine_to_fp32_min']:.4f}  recall@10 {r['recall_at_10_vs_fp32']:.3f}"
            )

    items, bulk_texts = _texts(n_bulk)
    embedder = Embedder(precision="auto")
    from config.settings import get_settings
    from indexer.embedding_cache import EmbeddingCache, embed_cached

    cache = EmbeddingCache(get_settings().cache_dir / "embeddings", embedder.key, embedder.dim)
    vectors, _ = embed_cached(bulk_texts, embedder.encode, cache, embedder.dim)
    cache.close()
    report["storage"] = st = bench_storage(vectors)
    print(
        f"storage recall@10 vs fp32 on {st['vectors']} items: "
        + ", ".join(f"{k} {v['recall_at_10']:.3f}" for k, v in st.items() if isinstance(v, dict))
    )
    if not args.skip_bulk:
        report["bulk"] = bulk = bench_bulk(items, vectors, args.url, bulk_repeats)
        print(
            f"bulk {bulk['docs']} docs with precomputed vectors x{bulk_repeats} (docs/s, median):"
        )
        print(f"  {'':44s} {'docs/s':>8s}  ratio  engine/client CPU ms/doc  "
              f"CPU-bound docs/s on {bulk['cores']} cores  knn recall@10")  # fmt: skip
        for name, r in bulk.items():
            if isinstance(r, dict):
                recall = r["knn_recall_at_10_vs_brute_force"]
                print(
                    f"  {name:44s} {r['docs_per_s_median']:8.1f}  x{r['ratio_vs_baseline']:.2f}  "
                    f"{r['engine_cpu_ms_per_doc']:.3f} / {r['client_cpu_ms_per_doc']:.3f}  "
                    f"{r['cpu_bound_docs_per_s']:8.1f}  "
                    + ("-" if recall is None else f"{recall:.3f}")
                )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
