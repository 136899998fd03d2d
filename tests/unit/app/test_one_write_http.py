"""Each sidecar response leaves in one socket write, headers and body together."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from reranker.app.main import create_app
from reranker.app.one_write_http import JoinedWrites, OneWriteHttpToolsProtocol
from tests.unit.app.conftest import sidecar_settings


class _Counting:
    """The real transport, with every write recorded."""

    def __init__(self, transport: Any, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


WRITES: list[bytes] = []


class _CountedProtocol(OneWriteHttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(_Counting(transport, WRITES))


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(sidecar_settings()), log_level="warning", http=_CountedProtocol
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_each_response_is_one_write_over_a_kept_alive_connection(url: str, kit: Any) -> None:
    body = kit.payload(n=8, dim=8, k=5)
    with httpx.Client(base_url=url) as client:
        WRITES.clear()
        answers = [client.post("/v1/rerank", json=body) for _ in range(3)]
        answers.append(client.get("/healthz"))
        answers.append(client.post("/v1/rerank", json={"candidates": []}))  # a 422
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 422]
    assert len(answers[0].json()["ids"]) == 5
    assert len(WRITES) == len(answers), [w[:40] for w in WRITES]
    for write, answer in zip(WRITES, answers, strict=True):
        assert write.startswith(b"HTTP/1.1 ") and write.endswith(answer.content)


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_writes_of_one_turn_are_joined_and_close_sends_them_first() -> None:
    async def scenario() -> _Transport:
        raw = _Transport()
        joined = JoinedWrites(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        joined.write(b"head ")
        joined.writelines([b"body", b""])
        assert raw.writes == [] and joined.get_write_buffer_size() == 9
        await asyncio.sleep(0)  # the end of the turn
        assert raw.writes == [b"head body"]
        joined.write(b"last")
        joined.close()  # sent before the close, not dropped
        assert raw.writes == [b"head body", b"last"] and raw.closed
        assert joined.get_extra_info("peername") == "info:peername"
        return raw

    asyncio.run(scenario())


def test_abort_drops_what_is_pending() -> None:
    async def scenario() -> None:
        raw = _Transport()
        joined = JoinedWrites(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        joined.write(b"never sent")
        joined.abort()
        await asyncio.sleep(0)
        assert raw.writes == [] and raw.aborted

    asyncio.run(scenario())
