"""Multi-worker serving binds a socket on which asyncio disables Nagle (no +40 ms per reply)."""

from __future__ import annotations

import asyncio
import os
import socket

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from reranker.app.serving import BLAS_THREAD_VARIABLES, bind_tcp, single_threaded_blas


def test_bound_socket_declares_tcp() -> None:
    sock = bind_tcp("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    finally:
        sock.close()


def test_accepted_connections_get_tcp_nodelay() -> None:
    """What uvicorn's workers do with the socket: asyncio's server on ``sock=``."""

    async def scenario() -> int:
        sock = bind_tcp("127.0.0.1", 0)
        seen: list[int] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn = writer.get_extra_info("socket")
            seen.append(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=sock)
        port = sock.getsockname()[1]
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()
        return seen[0]

    assert asyncio.run(scenario()) != 0


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_blas_is_single_threaded_unless_the_operator_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert np.__name__ == "numpy"  # loaded: the limit has to be applied live
    for name in BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    limiter = single_threaded_blas()
    try:
        assert limiter is not None
        assert _blas_threads() == {1}
        assert all(os.environ[name] == "1" for name in BLAS_THREAD_VARIABLES)  # for workers
    finally:
        if limiter is not None:
            limiter.restore_original_limits()

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    before = _blas_threads()
    assert single_threaded_blas() is None
    assert _blas_threads() == before
