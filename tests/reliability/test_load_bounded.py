"""Bounded concurrent load through the real pipeline: no failed search, and neither the sidecar
nor the engine grows its memory after warm-up (the long run with figures is ``bench/load.py``).

Four searchers for ~60 s on loopback (bounded in count and time) through a real ``divrank
serve`` and the real engine: every answer is a 200 carrying ``ext.divrank``; the resident memory
of the sidecar (a process this test started) and of the engine (its pid as the engine reports
it; only read from /proc, never signalled) after the warm-up and at the end differ by at most
10%.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

WARMUP_S, MEASURED_S, GROWTH = 20.0, 40.0, 1.10


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def engine_pid(client: OpenSearch) -> int:
    nodes = client.nodes.info(metric="process")["nodes"]
    [node] = nodes.values()  # the shared engine is one node
    return int(node["process"]["id"])


def test_load_fails_no_search_and_memory_stays_flat(
    client: OpenSearch,
    launch_sidecar: Callable[..., Any],
    pipelines: Callable[..., str],
    search_load: Callable[..., Any],
) -> None:
    side = launch_sidecar()
    try:
        pipe = pipelines(sidecar_url=side.url, connect_timeout_ms=500, read_timeout_ms=5000)
        engine = engine_pid(client)
        load = search_load(pipe, threads=4, max_requests=20_000,
                           max_seconds=WARMUP_S + MEASURED_S + 5)  # fmt: skip
        with load:
            time.sleep(WARMUP_S)
            after_warmup = {"sidecar": rss_bytes(side.process.pid), "engine": rss_bytes(engine)}
            warm_count = len(load.snapshot())
            time.sleep(MEASURED_S)
            at_end = {"sidecar": rss_bytes(side.process.pid), "engine": rss_bytes(engine)}
        outcomes = load.snapshot()
    finally:
        side.stop()
    failed = [o for o in outcomes if o.status != 200 or "applied" not in o.ext]
    assert not failed, [(o.status, o.error) for o in failed[:5]]
    assert len(outcomes) - warm_count >= 200, "too few searches after the warm-up to judge"
    degraded = sum(bool(o.ext.get("degraded")) for o in outcomes[warm_count:])
    assert degraded == 0, f"{degraded} degraded answers after the warm-up"
    for name, before in after_warmup.items():
        growth = at_end[name] / before
        assert growth <= GROWTH, f"{name} RSS {before >> 20} -> {at_end[name] >> 20} MiB"
