"""Multi-worker serving binds a socket on which asyncio disables Nagle (no +40 ms per reply)."""

from __future__ import annotations

import asyncio
import socket

from reranker.app.serving import bind_tcp


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
