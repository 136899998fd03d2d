"""A bounded, thread-safe LRU map with an optional time-to-live.

The sidecar runs handlers in a thread pool, so look-up caches are shared between threads; the
bound keeps memory flat however many users or items pass through a worker.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """LRU of at most ``maxsize`` entries; entries older than ``ttl_s`` count as absent.

    ``maxsize=0`` disables caching; ``ttl_s=None`` keeps entries until evicted.
    """

    def __init__(
        self, maxsize: int, ttl_s: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.maxsize = maxsize
        self.ttl_s = ttl_s
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` on a fresh hit, ``(False, None)`` otherwise."""
        with self._lock:
            item = self._data.get(key)
            if item is None:  # stored items are (stamp, value) tuples, never None
                return False, None
            stamp, value = item
            if self.ttl_s is not None and self._clock() - stamp > self.ttl_s:
                del self._data[key]
                return False, None
            self._data.move_to_end(key)
            return True, value

    def get_many(self, keys: list[K]) -> list[tuple[bool, V | None]]:
        """``get`` for each key under one lock: a window's 100 look-ups in one acquisition."""
        now = self._clock() if self.ttl_s is not None else 0.0
        out: list[tuple[bool, V | None]] = []
        with self._lock:
            data = self._data
            for key in keys:
                item = data.get(key)
                if item is None:
                    out.append((False, None))
                elif self.ttl_s is not None and now - item[0] > self.ttl_s:
                    del data[key]
                    out.append((False, None))
                else:
                    data.move_to_end(key)
                    out.append((True, item[1]))
        return out

    def put(self, key: K, value: V) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = (self._clock(), value)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
