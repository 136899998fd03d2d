"""Oversized bodies are refused with 413 before parsing, declared or streamed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx


def _oversized(kit: Any) -> bytes:
    return b'{"candidates": [' + b" " * kit.max_body_bytes + b"]}"


def test_declared_length_above_limit_is_413(client: httpx.Client, kit: Any) -> None:
    response = client.post("/v1/rerank", content=_oversized(kit))
    assert response.status_code == 413
    assert str(kit.max_body_bytes) in response.json()["detail"]


def test_streamed_body_above_limit_is_413(client: httpx.Client, kit: Any) -> None:
    chunk = b" " * 4096

    def chunks() -> Iterator[bytes]:
        yield b'{"candidates": ['
        for _ in range(kit.max_body_bytes // len(chunk) + 2):
            yield chunk

    response = client.post("/v1/rerank", content=chunks())  # chunked: no Content-Length
    assert response.status_code == 413
    assert "detail" in response.json()


def test_streamed_body_within_limit_is_parsed(client: httpx.Client, kit: Any) -> None:
    body = httpx.Request("POST", "/", json=kit.payload()).content

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 100):
            yield body[i : i + 100]

    response = client.post("/v1/rerank", content=chunks())
    assert response.status_code == 200, response.text


def test_body_just_at_limit_is_accepted(client: httpx.Client, kit: Any) -> None:
    body = httpx.Request("POST", "/", json=kit.payload()).content
    padded = body[:-1] + b" " * (kit.max_body_bytes - len(body)) + b"}"
    assert len(padded) == kit.max_body_bytes
    assert client.post("/v1/rerank", content=padded).status_code == 200
