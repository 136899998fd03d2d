"""Streaming indexer at scale: peak RSS and docs/s of `divrank index` on generated catalogs.

Writes catalogs of ``--rows`` (default 100,000 and 1,000,000) rows with precomputed unit
vectors (``--dim``, default 384) to a temporary folder, then runs the real CLI (``divrank index
--no-embed``) on each against ``--url`` and reports per size: wall time, docs/s, the child's
peak RSS (``VmHWM``, the kernel's high-water mark) and RSS samples over the run (flat =
streaming). The ratio of peak RSS between sizes is the figure that matters: a whole-catalog
indexer grows with the rows, a streaming one does not.

Point ``--url`` at an engine of your own, not the shared one: a million vectors load a node
for many minutes. For example (a second engine beside the shared one):

    DIVRANK_ENGINE_HOME=$PWD/.engine/bench DIVRANK_ENGINE_PORT=9610 DIVRANK_ENGINE_HEAP=1g \\
        .venv/bin/divrank engine up
    .venv/bin/python bench/index_stream.py --url http://127.0.0.1:9610 --dim 64 \\
        --json bench/results/index_stream.json
    DIVRANK_ENGINE_HOME=$PWD/.engine/bench DIVRANK_ENGINE_PORT=9610 .venv/bin/divrank engine down
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def write_catalog(path: Path, rows: int, dim: int, seed: int = 0) -> None:
    """Rows in chunks: the generator's own memory stays small too."""
    rng = np.random.default_rng(seed)
    with path.open("w") as out:
        for start in range(0, rows, 10_000):
            n = min(10_000, rows - start)
            vecs = rng.normal(size=(n, dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            lines = []
            for k in range(n):
                i = start + k
                lines.append(json.dumps({
                    "sku": f"s{i}", "name": f"item {i} {['toner', 'lamp', 'desk'][i % 3]}",
                    "cat": f"dept{i % 20}/aisle{i % 200}", "price": round(1 + (i % 997) * 0.5, 2),
                    "vec": np.round(vecs[k], 5).tolist(),
                }))
            out.write("\n".join(lines) + "\n")


def _memory_mb(pid: int) -> tuple[float, float] | None:
    """(VmRSS, VmHWM): resident now and the process's own high-water mark."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        return None


def run_index(path: Path, rows: int, url: str, alias: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "cli.main", "index", "--input", str(path), "--alias", alias,
           "--id-field", "sku", "--title-field", "name", "--category-field", "cat",
           "--price-field", "price", "--embedding-field", "vec", "--no-embed", "--no-progress",
           "--url", url, "--json", "--keep", "1",
           "--rejects", str(path.with_suffix(".rejects.jsonl"))]
    samples: list[tuple[float, float]] = []
    high = [0.0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, HF_HUB_OFFLINE="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while proc.poll() is None:
            mem = _memory_mb(proc.pid)
            if mem is not None:
                samples.append((time.perf_counter() - started, mem[0]))
                high[0] = max(high[0], mem[1])
            time.sleep(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    sampler.join(timeout=5)
    if proc.returncode != 0:
        raise SystemExit(f"divrank index failed ({proc.returncode}):\n{err[-3000:]}")
    report = json.loads(out)
    peak_mb = high[0]  # VmHWM sampled every second: the kernel's peak for this process
    picks = [samples[int(f * (len(samples) - 1))][1] for f in (0.1, 0.5, 0.9)] if samples else []
    return {
        "rows": rows, "accepted": report["accepted"], "seconds": round(seconds, 1),
        "docs_per_s": round(report["accepted"] / seconds, 1),
        "bulk_docs_per_s": report["bulk_docs_per_s"],
        "peak_rss_mb": round(peak_mb, 1),
        "rss_mb_at_10_50_90_pct": [round(x, 1) for x in picks],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="engine URL (your own, not the shared one)")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    results = []
    from opensearchpy import OpenSearch

    client = OpenSearch(args.url, timeout=120)
    with tempfile.TemporaryDirectory(prefix="divrank-stream-") as tmp:
        for rows in sorted(args.rows):
            path = Path(tmp) / f"catalog-{rows}.jsonl"
            t0 = time.perf_counter()
            write_catalog(path, rows, args.dim)
            print(f"generated {rows} rows x {args.dim} dims "
                  f"({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")
            alias = f"bench-stream-{uuid.uuid4().hex[:6]}"
            try:
                result = run_index(path, rows, args.url, alias)
            finally:
                client.indices.delete(index=f"{alias}-*", ignore_unavailable=True)
                path.unlink(missing_ok=True)
            result["dim"] = args.dim
            results.append(result)
            print(json.dumps(result))
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(f"peak RSS {last['rows']:,} vs {first['rows']:,} rows: "
              f"{last['peak_rss_mb'] / first['peak_rss_mb']:.2f}x for "
              f"{last['rows'] / first['rows']:.0f}x the rows; "
              f"docs/s ratio {last['docs_per_s'] / first['docs_per_s']:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
