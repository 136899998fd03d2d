"""The sidecar's start-up warm-up compiles every kernel a request can reach."""

from __future__ import annotations

import subprocess
import sys

from config.settings import REPO_ROOT

CHECK = (
    "from reranker.core import relevance_features as r\n"
    "{warm}"
    "print(len(r._window_kernel.signatures))\n"
)


def _signatures(warm: bool) -> int:
    warm_up = "from reranker.core.warmup import warm_up\nwarm_up()\n"
    code = CHECK.format(warm=warm_up if warm else "")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, check=True)  # fmt: skip
    return int(done.stdout.strip().splitlines()[-1])


def test_warm_up_compiles_the_relevance_feature_kernel() -> None:
    """In a fresh process the kernel is not compiled until a first call; warm_up makes it."""
    assert _signatures(warm=False) == 0
    assert _signatures(warm=True) >= 1
