"""Run the sidecar under uvicorn, with one or several worker processes.

Why not simply ``uvicorn.run(..., workers=N)``: for several workers uvicorn binds the listening
socket itself with ``socket.socket(family)``, whose ``proto`` is 0, and asyncio only switches
Nagle's algorithm off (``TCP_NODELAY``) on connections whose socket says ``IPPROTO_TCP``. Each
response is written as headers then body, so the body waits for the client's delayed ACK:
about 40 ms added to every request (measured: /healthz 1.2 ms with one worker, 45 ms with
two). Binding the socket here with an explicit ``IPPROTO_TCP`` and handing it to uvicorn's own
multi-process supervisor keeps uvicorn's worker management and removes the delay.

BLAS runs single-threaded in each worker unless the operator set a thread count: ranking does
small mat-vecs (100 x 384), where a second BLAS thread adds hand-off cost and, on a box shared
with the engine, its spinning steals the engine's CPU; parallelism comes from ``--workers``.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

__all__ = ["APP_FACTORY", "BLAS_THREAD_VARIABLES", "bind_tcp", "run", "single_threaded_blas"]

APP_FACTORY = "reranker.app.main:create_app"
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded_blas() -> Any | None:
    """One BLAS thread, unless one of ``BLAS_THREAD_VARIABLES`` is set (the operator's choice).

    Sets the variables for worker processes started later (they load numpy afresh) and, when
    this process has already loaded numpy, limits its BLAS pools in place. Returns the live
    limiter (``restore_original_limits()`` undoes it) or None when nothing was changed live.
    """
    if any(os.environ.get(name) for name in BLAS_THREAD_VARIABLES):
        return None
    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = "1"
    if "numpy" not in sys.modules:
        return None
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket whose ``proto`` lets asyncio set ``TCP_NODELAY``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def run(
    host: str, port: int, workers: int, log_level: str = "info", access_log: bool = False
) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    single_threaded_blas()
    if workers <= 1:
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            log_level=log_level,
            access_log=access_log,
        )
        return
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
    )
    sock = bind_tcp(host, port)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
