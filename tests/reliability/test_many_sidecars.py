"""Several sidecars behind one pipeline: load spreads over them, and killing two of three under
load fails no search and leaves re-ranking on (the plugin skips a refused connection for the
next sidecar within the same deadline and rests the dead ones)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


def test_two_of_three_sidecars_killed_under_load(
    launch_sidecar: Callable[..., Any],
    pipelines: Callable[..., str],
    search_load: Callable[..., Any],
) -> None:
    sides = [launch_sidecar() for _ in range(3)]
    try:
        pipe = pipelines(sidecar_url=tuple(s.url for s in sides),
                         connect_timeout_ms=500, read_timeout_ms=5000)  # fmt: skip
        with search_load(pipe, threads=3, max_requests=5000, max_seconds=40) as load:
            assert load.wait_for(lambda seen: len(seen) >= 60, 20), "no load before the kill"
            for side in sides[:2]:
                side.send(signal.SIGKILL)
            killed_at = time.monotonic()
            assert load.wait_for(
                lambda seen: sum(o.started > killed_at + 1 for o in seen) >= 100, 30
            ), "too few searches after the kill"
        outcomes = load.snapshot()
    finally:
        for side in sides:
            side.stop()
    failed = [o for o in outcomes if o.status != 200]
    assert not failed, [(o.status, o.error) for o in failed[:5]]
    after = [o for o in outcomes if o.started > killed_at + 1]
    not_applied = [o.ext.get("reason") for o in after if not o.ext.get("applied")]
    assert not not_applied, not_applied[:5]  # re-ranking continued on the third sidecar
