"""Bounded concurrent search load through the divrank pipeline, engine-only side by side.

Why: the fail-open and "no 5xx" promises only mean something under concurrency, and a slow leak
in the sidecar (caches, metrics label sets) or the plugin only shows across many requests. So:

1. index a slice of the Icecat catalog behind a throw-away alias (``divrank index --preset
   icecat --limit N --alias bench-load-<uuid>``), start a sidecar on a free loopback port
   (``cli.nodes.sidecar``, its pid file and log in a temporary folder) and install a
   pipeline pointing at it;
2. ``--concurrency`` threads each draw from one seeded request mix (query words taken from the
   indexed titles; 40 users, half of them carrying an inline history; every strategy; diversity
   0…0.9; explain on one request in eight; pages ``from`` 0/10/20) and send every request twice,
   in alternating order: a plain search (``engine``) and the same search through the pipeline
   (``pipeline``) with its ``ext.divrank``;
3. a sampler reads the resident memory (``/proc``, whole process tree) of the sidecar and the
   engine every 2 s.

Bounded in count (``--max-requests``) and time (``--seconds``); loopback only. Failures are
transport errors and non-200 answers; a pipeline answer with ``ext.divrank.degraded`` is
counted separately, and so is one the plugin passes through by design (``applied: false``
without ``degraded``, e.g. ``no_hits_in_page``). Memory: first sample after the warm-up vs the last
one, and the maximum.

Usage: ``python bench/load.py [--quick] [--json PATH] [--seconds S] [--concurrency C]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from opensearchpy import OpenSearch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from cli import pipeline  # noqa: E402
from cli.nodes import opensearch as engine_ctl  # noqa: E402
from cli.nodes import sidecar as sidecar_process  # noqa: E402
from config.settings import Settings, get_settings  # noqa: E402

STRATEGIES = ("engine", "personalized", "mmr", "dpp", "fusion")
DIVERSITIES = (0.0, 0.3, 0.5, 0.7, 0.9)
PAGES = (0, 0, 0, 10, 20)  # most traffic is the first page


# --- memory ---------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def tree_rss_mb(pid: int | None) -> float | None:
    """Resident memory of ``pid`` and all its descendants (uvicorn workers), in MB."""
    if pid is None or not Path(f"/proc/{pid}").exists():
        return None
    seen, todo, total = set(), [pid], 0
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        total += _rss_kib(current)
        todo += _children(current)
    return round(total / 1024, 1)


@dataclass
class MemorySampler:
    sidecar_pid: int | None
    engine_pid: int | None
    period_s: float = 2.0
    samples: list[dict[str, float | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self, t0: float) -> dict[str, float | None]:
        row = {"t_s": round(time.monotonic() - t0, 1),
               "sidecar_mb": tree_rss_mb(self.sidecar_pid),
               "engine_mb": tree_rss_mb(self.engine_pid)}
        self.samples.append(row)
        return row

    def start(self) -> None:
        t0 = time.monotonic()

        def loop() -> None:
            while not self._stop.wait(self.period_s):
                self.sample(t0)

        self.sample(t0)
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"samples": len(self.samples)}
        for key in ("sidecar_mb", "engine_mb"):
            values = [s[key] for s in self.samples if s[key] is not None]
            if not values:
                out[key] = None
                continue
            out[key] = {"start": values[0], "end": values[-1], "max": max(values),
                        "growth": round(values[-1] - values[0], 1)}
        return out


# --- workload -------------------------------------------------------------------------------


def _index_icecat(engine_url: str, alias: str, limit: int, workdir: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "cli.main", "index", "--preset", "icecat", "--limit",
           str(limit), "--alias", alias, "--url", engine_url, "--no-progress", "--json",
           "--rejects", str(workdir / "rejects.jsonl")]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"indexing failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{"):])
    return report


def _vocabulary(client: OpenSearch, alias: str) -> tuple[list[str], list[str]]:
    """Query words that occur in several titles, and the indexed ids (for histories)."""
    resp = client.search(index=alias, body={"size": 1000, "_source": ["title"],
                                            "query": {"match_all": {}}})
    hits = resp["hits"]["hits"]
    counts: Counter[str] = Counter()
    for hit in hits:
        words = set(re.findall(r"[a-z]{3,}", str(hit["_source"].get("title", "")).lower()))
        counts.update(words)
    # Frequent enough that the second and third pages usually have hits.
    vocab = sorted(w for w, n in counts.items() if 12 <= n <= len(hits) // 3)
    return vocab, sorted(hit["_id"] for hit in hits)


@dataclass(frozen=True)
class Spec:
    query: str
    page_from: int
    ext: dict[str, Any]


def request_mix(vocab: list[str], ids: list[str], n: int, seed: int) -> list[Spec]:
    rng = random.Random(seed)
    users = [f"load-user-{i}" for i in range(40)]
    histories = {u: rng.sample(ids, k=min(5, len(ids))) for u in users[::2]}
    specs = []
    for _ in range(n):
        user = rng.choice(users)
        ext: dict[str, Any] = {"user_id": user, "strategy": rng.choice(STRATEGIES),
                               "diversity": rng.choice(DIVERSITIES)}
        if user in histories:
            ext["history"] = {"item_ids": histories[user]}
        if rng.random() < 0.125:
            ext["explain"] = True
        query = " ".join(rng.sample(vocab, k=rng.choice((1, 1, 2))))
        specs.append(Spec(query, rng.choice(PAGES), ext))
    return specs


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"engine": [], "pipeline": []})
    failures: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    degraded: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # not re-ranked, by design
    applied: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _one(http: httpx.Client, alias: str, pipe: str, spec: Spec, variant: str,
         tally: Tally) -> None:
    body: dict[str, Any] = {"from": spec.page_from, "size": 10,
                            "query": {"match": {"title": spec.query}}}
    params = {}
    if variant == "pipeline":
        body["ext"] = {"divrank": spec.ext}
        params = {"search_pipeline": pipe}
    started = time.perf_counter()
    try:
        resp = http.post(f"/{alias}/_search", params=params, json=body)
    except httpx.HTTPError as exc:
        with tally.lock:
            tally.failures[f"{variant}:{type(exc).__name__}"] += 1
        return
    elapsed = (time.perf_counter() - started) * 1000
    ext = {}
    if resp.status_code == 200 and variant == "pipeline":
        ext = resp.json().get("ext", {}).get("divrank", {})
    with tally.lock:
        tally.statuses[f"{variant}:{resp.status_code}"] += 1
        if resp.status_code != 200:
            tally.failures[f"{variant}:http_{resp.status_code}"] += 1
            return
        tally.latencies[variant].append(elapsed)
        if variant == "pipeline":
            if ext.get("degraded"):
                tally.degraded[str(ext.get("reason", "unknown"))] += 1
            elif not ext.get("applied"):
                tally.skipped[str(ext.get("reason", "unknown"))] += 1
            else:
                tally.applied += 1


def run_load(engine_url: str, alias: str, pipe: str, specs: list[Spec], concurrency: int,
             seconds: float) -> tuple[Tally, float]:
    tally = Tally()
    cursor = iter(range(len(specs)))
    cursor_lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(base_url=engine_url, timeout=30) as http:
            while time.monotonic() < deadline:
                with cursor_lock:
                    i = next(cursor, None)
                if i is None:
                    return
                order = ("engine", "pipeline") if i % 2 == 0 else ("pipeline", "engine")
                for variant in order:
                    _one(http, alias, pipe, specs[i], variant, tally)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.monotonic() - started


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 items, 20 s")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--items", type=int, help="Icecat items to index (default 500)")
    parser.add_argument("--seconds", type=float, help="load duration cap (default 180)")
    parser.add_argument("--stored-window", action="store_true",
                        help="the ordinary window (stored fields) instead of the lean one")
    parser.add_argument("--max-requests", type=int, default=50_000,
                        help="request pairs cap (engine + pipeline each)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="sidecar worker processes")
    parser.add_argument("--read-timeout-ms", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    items = args.items or (300 if args.quick else 500)
    seconds = args.seconds or (20.0 if args.quick else 180.0)
    warmup_pairs = 30

    settings = get_settings()
    engine_url = settings.opensearch_url.rstrip("/")
    if not engine_url.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit(f"loopback only: DIVRANK_OPENSEARCH_URL is {engine_url}")
    engine_status = engine_ctl.status(settings)
    if not engine_status.running:
        raise SystemExit(f"no engine answers at {engine_url} (`divrank engine up`)")
    client = OpenSearch(engine_url, timeout=60)
    tag = f"bench-load-{uuid.uuid4().hex[:8]}"
    alias, pipe = tag, f"{tag}-pipe"
    with tempfile.TemporaryDirectory(prefix="divrank-load-") as tmp:
        side_settings = Settings(
            cache_dir=Path(tmp), port=sidecar_process.free_port(), workers=args.workers
        )
        try:
            print(f"indexing {items} Icecat items behind {alias} ...")
            report = _index_icecat(engine_url, alias, items, Path(tmp))
            side = sidecar_process.start(
                side_settings, timeout_s=90,
                env={"DIVRANK_OPENSEARCH_URL": engine_url,
                     "DIVRANK_WORKERS": str(args.workers)})
            # as `divrank pipeline install --alias` sets it up: the lean window where it can
            lean = pipeline.lean_window_ready(client, alias) and not args.stored_window
            pipeline.install(client, pipeline.PipelineConfig(
                name=pipe, sidecar_url=side.url, connect_timeout_ms=200,
                read_timeout_ms=args.read_timeout_ms, lean_window=lean))
            vocab, ids = _vocabulary(client, alias)
            specs = request_mix(vocab, ids, args.max_requests + warmup_pairs, args.seed)
            print(f"sidecar {side.url} (pid {side.pid}, {args.workers} worker(s)); "
                  f"{'lean' if lean else 'stored-fields'} window; "
                  f"{len(vocab)} query words; {args.concurrency} threads for {seconds:.0f} s")
            run_load(engine_url, alias, pipe, specs[:warmup_pairs], args.concurrency, 60)
            sampler = MemorySampler(side.pid, engine_status.pid)
            sampler.start()
            tally, elapsed = run_load(engine_url, alias, pipe, specs[warmup_pairs:],
                                      args.concurrency, seconds)
            sampler.sample(time.monotonic())
            sampler.stop()
        finally:
            pipeline.delete(client, pipe)
            sidecar_process.stop(side_settings)
            client.indices.delete(index=f"{alias}-*", ignore_unavailable=True)

    requests = sum(tally.statuses.values()) + sum(
        n for k, n in tally.failures.items() if "http_" not in k)
    latency = {v: {"n": len(ms), "p50_ms": _pct(ms, 50), "p90_ms": _pct(ms, 90),
                   "p99_ms": _pct(ms, 99)} for v, ms in tally.latencies.items()}
    e50, p50 = latency["engine"]["p50_ms"], latency["pipeline"]["p50_ms"]
    e99, p99 = latency["engine"]["p99_ms"], latency["pipeline"]["p99_ms"]
    result = {
        "bench": "load", "quick": args.quick, "items": report["accepted"],
        "concurrency": args.concurrency, "sidecar_workers": args.workers, "lean_window": lean,
        "seconds": round(elapsed, 1), "requests": requests,
        "requests_per_s": round(requests / elapsed, 1) if elapsed else None,
        "failures": sum(tally.failures.values()), "failures_by_kind": dict(tally.failures),
        "statuses": dict(tally.statuses),
        "pipeline_applied": tally.applied, "pipeline_degraded": sum(tally.degraded.values()),
        "degraded_by_reason": dict(tally.degraded),
        "pipeline_skipped_by_reason": dict(tally.skipped),
        "latency": latency,
        "ratio_pipeline_over_engine": {
            "p50": round(p50 / e50, 2) if p50 and e50 else None,
            "p99": round(p99 / e99, 2) if p99 and e99 else None},
        "memory": sampler.summary(),
        "memory_samples": sampler.samples,
    }
    print(f"{requests} requests in {elapsed:.1f} s ({result['requests_per_s']}/s), "
          f"failures {result['failures']}, pipeline degraded {result['pipeline_degraded']} "
          f"{dict(tally.degraded) or ''}, applied {tally.applied}, "
          f"not re-ranked by design {dict(tally.skipped)}")
    print(f"{'variant':<10}{'n':>7}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}")
    for name, s in latency.items():
        print(f"{name:<10}{s['n']:>7}{s['p50_ms']!s:>9}{s['p90_ms']!s:>9}{s['p99_ms']!s:>9}")
    print(f"pipeline / engine: p50 x{result['ratio_pipeline_over_engine']['p50']}, "
          f"p99 x{result['ratio_pipeline_over_engine']['p99']}")
    for key, mem in result["memory"].items():
        if isinstance(mem, dict):
            print(f"{key}: start {mem['start']} MB, end {mem['end']} MB, max {mem['max']} MB, "
                  f"growth {mem['growth']:+} MB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    if result["failures"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
