"""Run the sidecar inside this process on a free loopback port (tests, notebooks, demos).

A real uvicorn server on a real socket, in a background thread: callers talk HTTP to it
exactly as the plugin does. ``divrank serve`` is the way to run it for real.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from config.settings import Settings
from reranker.app.main import create_app

__all__ = ["EmbeddedSidecar", "embedded_sidecar"]


class EmbeddedSidecar:
    def __init__(self, app: FastAPI, sock: socket.socket) -> None:
        self.app = app
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self._sock = sock
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("embedded sidecar did not start")
            time.sleep(0.01)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout_s)
        self._sock.close()


@contextmanager
def embedded_sidecar(settings: Settings, host: str = "127.0.0.1") -> Iterator[EmbeddedSidecar]:
    """Yield a started sidecar (``.url``, ``.app``) built from ``settings``; stop it after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sidecar = EmbeddedSidecar(create_app(settings), sock)
    sidecar.start()
    try:
        yield sidecar
    finally:
        sidecar.stop()
