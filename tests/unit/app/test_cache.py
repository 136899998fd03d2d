"""BoundedCache: least-recently-used eviction, time-to-live, disabled at size 0."""

from __future__ import annotations

from reranker.app.services.cache import BoundedCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_entry_is_evicted() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (True, 1)  # "a" is now the most recent
    cache.put("c", 3)
    assert cache.get("b") == (False, None)
    assert cache.get("a") == (True, 1)
    assert cache.get("c") == (True, 3)
    assert len(cache) == 2


def test_entries_expire_after_ttl() -> None:
    clock = FakeClock()
    cache: BoundedCache[str, int | None] = BoundedCache(10, ttl_s=5.0, clock=clock)
    cache.put("u", None)  # a cached "absent" is a hit too
    clock.now = 4.9
    assert cache.get("u") == (True, None)
    clock.now = 5.1
    assert cache.get("u") == (False, None)
    assert len(cache) == 0


def test_size_zero_disables_and_clear_empties() -> None:
    off: BoundedCache[str, int] = BoundedCache(0)
    off.put("a", 1)
    assert off.get("a") == (False, None)
    on: BoundedCache[str, int] = BoundedCache(3)
    on.put("a", 1)
    on.clear()
    assert on.get("a") == (False, None)
