"""What a query encoder in the sidecar would cost: MiniLM on real Home Depot queries, torch
against a torch-free ONNX Runtime export (fp32 and int8), one thread each, side by side.

    .venv/bin/python bench/query_encoder.py [--quick] [--json PATH] [--queries 300]

Needs the encoder extra (``pip install -e '.[encoder]'``: onnx to export, onnxruntime to
run). The model is exported once from the packaged all-MiniLM-L6-v2 (the one ``divrank index``
embeds the catalog with) into the cache folder, then dynamically quantised to int8. Inputs are
the cached evaluation episodes' queries (``divrank eval`` builds them). Per query, interleaved
(one call of each per round, so machine noise hits all alike): tokenise + encode + mean-pool +
normalise, as the sidecar would per BM25 request. Prints p50/p99 in ms, the ratio to torch,
and how close each encoder's vectors are to the ones the index was built with (cosine to
sentence-transformers): the relevance model's cosine features read those.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from config.settings import get_settings  # noqa: E402
from evaluation.episodes import EpisodeSet, episode_path  # noqa: E402
from indexer.embeddings import resolve_model  # noqa: E402

Encoder = Callable[[str], np.ndarray]


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _export(model_dir: str, target: Path) -> None:
    """MiniLM + mean pooling + L2 norm as one ONNX graph (dynamic batch and length)."""
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, body: torch.nn.Module) -> None:
            super().__init__()
            self.body = body

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.body(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    model = Pooled(AutoModel.from_pretrained(model_dir).eval())
    ids = torch.ones((1, 8), dtype=torch.int64)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (ids, torch.ones_like(ids)), str(target), input_names=["ids", "mask"],
                      output_names=["vector"], opset_version=17, dynamo=False,
                      dynamic_axes={"ids": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}})  # fmt: skip


def _onnx_encoder(path: Path, tokenizer_json: str) -> Encoder:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(tokenizer_json)
    tokenizer.enable_truncation(128)
    tokenizer.no_padding()  # the file pads every query to 128 tokens
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(query: str) -> np.ndarray:
        tokens = tokenizer.encode(query)
        ids = np.array([tokens.ids], dtype=np.int64)
        mask = np.array([tokens.attention_mask], dtype=np.int64)
        out: np.ndarray = session.run(None, {"ids": ids, "mask": mask})[0][0]
        return out

    return encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 queries")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        sys.exit("needs the encoder extra: pip install -e '.[encoder]' (onnx, onnxruntime)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    settings = get_settings()
    episodes_file = episode_path(settings.cache_dir, "homedepot", "bm25")
    if not episodes_file.is_file():
        sys.exit(f"{episodes_file} is missing: run `divrank eval --retrieval bm25` once first")
    queries = list(dict.fromkeys(str(q) for q in EpisodeSet.load(episodes_file).queries))
    queries = queries[: 100 if args.quick else args.queries]
    model_dir = resolve_model(settings.embedding_model)
    folder = settings.cache_dir / "models" / "query-encoder"
    fp32, int8 = folder / "minilm.onnx", folder / "minilm-int8.onnx"
    if not fp32.is_file():
        print(f"exporting {model_dir} to {fp32}", file=sys.stderr)
        _export(model_dir, fp32)
    if not int8.is_file():
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)

    torch.set_num_threads(1)
    reference = SentenceTransformer(model_dir, device="cpu")

    def torch_encoder(query: str) -> np.ndarray:
        out: np.ndarray = reference.encode([query], normalize_embeddings=True)[0]
        return out

    tokenizer_json = str(Path(model_dir) / "tokenizer.json")
    encoders: dict[str, Encoder] = {
        "torch": torch_encoder,
        "onnx-fp32": _onnx_encoder(fp32, tokenizer_json),
        "onnx-int8": _onnx_encoder(int8, tokenizer_json),
    }
    for query in queries[:20]:  # warm-up
        for encode in encoders.values():
            encode(query)
    times: dict[str, list[float]] = {name: [] for name in encoders}
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in encoders}
    names = list(encoders)
    for i, query in enumerate(queries):
        for name in names[i % len(names) :] + names[: i % len(names)]:  # rotating order
            start = time.perf_counter()
            vector = encoders[name](query)
            times[name].append((time.perf_counter() - start) * 1e3)
            vectors[name].append(vector)
    ref = np.asarray(vectors["torch"])
    result: dict[str, dict[str, float]] = {}
    base = statistics.median(times["torch"])
    for name in names:
        cosine = (np.asarray(vectors[name]) * ref).sum(axis=1)
        p50 = statistics.median(times[name])
        result[name] = {"p50_ms": round(p50, 3), "p99_ms": round(_pct(times[name], 99), 3),
                        "ratio_to_torch": round(p50 / base, 3),
                        "cosine_min": round(float(cosine.min()), 4),
                        "cosine_mean": round(float(cosine.mean()), 4)}  # fmt: skip
        r = result[name]
        print(f"{name:10s} p50 {r['p50_ms']:7.3f} ms  p99 {r['p99_ms']:7.3f} ms  "
              f"×torch {r['ratio_to_torch']:.2f}  cosine to the index's vectors "
              f"min {r['cosine_min']:.4f} mean {r['cosine_mean']:.4f}")  # fmt: skip
    mib = {path.name: path.stat().st_size / 2**20 for path in (fp32, int8)}
    print(f"{len(queries)} Home Depot queries, one thread each; model files (MiB): {mib}")
    if args.json:
        args.json.write_text(json.dumps({"queries": len(queries), **result}, indent=1))


if __name__ == "__main__":
    main()
