"""HTTP throughput and latency of the sidecar, strategies side by side in one run.

Starts ``divrank serve --workers 2`` on a free loopback port (look-ups off: the request carries
its vectors) and drives it with a small keep-alive HTTP/1.1 load generator (asyncio streams,
pre-encoded bodies, so the client spends as little of the shared 2 cores as possible).

Scenarios, run in rotating order within each round so machine drift hits all of them:

- ``healthz``: GET /healthz, the HTTP floor of the stack;
- ``engine``: POST /v1/rerank with ``strategy=engine`` (parse + validate + translate, no
  re-ranking): the sidecar's fixed cost;
- ``fusion`` / ``mmr`` / ``dpp``: the same body with that strategy (``--quick``: fusion only).

Per scenario: requests/s (median over rounds), client-side p50/p99 latency over all requests,
and the server-side mean from ``divrank_rerank_latency_seconds`` (look-ups + ranking only).
Ratios are printed against ``engine``. Bounded: at most ``--requests`` per scenario and round,
and ``--seconds`` per block.

Usage: ``python bench/sidecar_http.py [--quick] [--json PATH] [--candidates N] [--dim D]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from cli.nodes import sidecar as sidecar_process  # noqa: E402

CATEGORIES = (
    "printing/toner",
    "printing/ink",
    "computers/laptops",
    "computers/accessories",
    "storage/ssd",
    "audio/headsets",
    "photo/cameras",
    "cables/usb",
)
BRANDS = ("hp", "canon", "epson", "brother", "lenovo", "dell", "logitech", "samsung", "sony")


def make_bodies(n: int, dim: int, k: int, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` distinct requests: clustered unit vectors, engine-like decreasing scores."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, dim))
    bodies = []
    for r in range(count):
        assign = rng.integers(0, len(centres), size=n)
        vectors = centres[assign] + 0.6 * rng.normal(size=(n, dim))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        scores = np.sort(rng.gamma(3.0, 4.0, size=n))[::-1]
        candidates = [
            {
                "id": f"r{r}-{i}",
                "score": round(float(scores[i]), 4),
                "embedding": [round(float(x), 6) for x in vectors[i]],
                "category": CATEGORIES[int(assign[i]) % len(CATEGORIES)],
                "brand": BRANDS[int(rng.integers(len(BRANDS)))],
            }
            for i in range(n)
        ]
        user_vec = vectors[int(rng.integers(n))] + 0.3 * rng.normal(size=dim)
        user_vec /= np.linalg.norm(user_vec)
        bodies.append(
            {
                "query": "hp toner",
                "candidates": candidates,
                "k": k,
                "user": {"history": {"vectors": [[round(float(x), 6) for x in user_vec]]}},
            }
        )
    return bodies


def encode_post(host: str, path: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    return head + payload


def encode_get(host: str, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def run_block(
    port: int, requests: list[bytes], concurrency: int, limit: int, seconds: float
) -> tuple[list[float], float, int]:
    """Send up to ``limit`` requests (cycling ``requests``) from ``concurrency`` connections."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal issued, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while issued < limit and time.perf_counter() < deadline:
                raw = requests[issued % len(requests)]
                issued += 1
                started = time.perf_counter()
                writer.write(raw)
                await writer.drain()
                status = await _read_response(reader)
                latencies.append((time.perf_counter() - started) * 1e3)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, errors


def server_latency(url: str) -> dict[str, tuple[float, float]]:
    """(sum, count) of the server's rerank latency histogram per strategy."""
    out: dict[str, tuple[float, float]] = {}
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        for suffix in ("_sum", "_count"):
            name = f"divrank_rerank_latency_seconds{suffix}"
            if line.startswith(name + "{"):
                strategy = line.split('strategy="', 1)[1].split('"', 1)[0]
                value = float(line.rsplit(" ", 1)[1])
                total, count = out.get(strategy, (0.0, 0.0))
                if suffix == "_sum":
                    out[strategy] = (total + value, count)
                else:
                    out[strategy] = (total, count + value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, help="per scenario and round")
    parser.add_argument("--seconds", type=float, help="time cap per block")
    args = parser.parse_args()

    rounds, per_block, seconds = (2, 200, 8.0) if args.quick else (3, 600, 20.0)
    per_block = args.requests or per_block
    seconds = args.seconds or seconds
    strategies = ["engine", "fusion"] if args.quick else ["engine", "fusion", "mmr", "dpp"]

    bodies = make_bodies(args.candidates, args.dim, args.k, count=16, seed=11)
    sidecar = ExitStack()
    url = sidecar.enter_context(
        sidecar_process.throwaway(
            # look-ups off: the request carries its vectors; no token; room for big bodies
            env={
                "DIVRANK_SIDECAR_LOOKUPS": "false",
                "DIVRANK_TOKEN": "",
                "DIVRANK_MAX_BODY_BYTES": str(32 * 1024 * 1024),
            },
            workers=args.workers,
        )
    ).url
    port = int(url.rsplit(":", 1)[1])
    host = f"127.0.0.1:{port}"
    try:
        encoded: dict[str, list[bytes]] = {"healthz": [encode_get(host, "/healthz")]}
        for strategy in strategies:
            encoded[strategy] = [
                encode_post(
                    host, "/v1/rerank", {**b, "knobs": {"strategy": strategy, "diversity": 0.6}}
                )
                for b in bodies
            ]
        body_bytes = len(encoded[strategies[0]][0])
        for reqs in encoded.values():  # warm-up: both workers, every code path
            asyncio.run(run_block(port, reqs, args.concurrency, 4 * args.concurrency, 30.0))

        latencies: dict[str, list[float]] = {name: [] for name in encoded}
        rps: dict[str, list[float]] = {name: [] for name in encoded}
        errors: dict[str, int] = dict.fromkeys(encoded, 0)
        server_before = server_latency(url)
        names = list(encoded)
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                lat, wall, err = asyncio.run(
                    run_block(port, encoded[name], args.concurrency, per_block, seconds)
                )
                latencies[name] += lat
                rps[name].append(len(lat) / wall)
                errors[name] += err
        server_after = server_latency(url)
    finally:
        sidecar.close()

    results: dict[str, dict[str, float]] = {}
    for name in names:
        lat = np.asarray(latencies[name])
        entry = {
            "requests": int(lat.size),
            "errors": errors[name],
            "rps_median": round(float(np.median(rps[name])), 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 3),
            "p99_ms": round(float(np.percentile(lat, 99)), 3),
        }
        if name in server_after:
            total = server_after[name][0] - server_before.get(name, (0.0, 0.0))[0]
            count = server_after[name][1] - server_before.get(name, (0.0, 0.0))[1]
            if count:
                entry["server_mean_ms"] = round(1e3 * total / count, 3)
        results[name] = entry

    base = results["engine"]
    ratios = {
        name: {
            "rps_vs_engine": round(results[name]["rps_median"] / base["rps_median"], 3),
            "p50_vs_engine": round(results[name]["p50_ms"] / base["p50_ms"], 3),
            "p99_vs_engine": round(results[name]["p99_ms"] / base["p99_ms"], 3),
        }
        for name in names
        if name != "engine"
    }
    config = {
        "candidates": args.candidates,
        "dim": args.dim,
        "k": args.k,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "rounds": rounds,
        "per_block": per_block,
        "body_bytes": body_bytes,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(
        f"sidecar HTTP, {args.workers} workers, {args.concurrency} connections, "
        f"N={args.candidates} x {args.dim}-d, k={args.k}, body {body_bytes / 1024:.0f} KiB"
    )
    print(
        f"{'scenario':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'server ms':>10} "
        f"{'rps/engine':>10} {'p50/engine':>10} {'err':>4}"
    )
    for name in names:
        res = results[name]
        ratio = ratios.get(name, {"rps_vs_engine": 1.0, "p50_vs_engine": 1.0})
        server = res.get("server_mean_ms")
        print(
            f"{name:<9} {res['rps_median']:>8.1f} {res['p50_ms']:>8.2f} {res['p99_ms']:>8.2f} "
            f"{'-' if server is None else f'{server:.3f}':>10} "
            f"{ratio['rps_vs_engine']:>10.2f} {ratio['p50_vs_engine']:>10.2f} "
            f"{res['errors']:>4}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"config": config, "results": results, "ratios": ratios}, indent=2)
        )


if __name__ == "__main__":
    main()
