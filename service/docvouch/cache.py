"""A bounded LRU of verify results, plus one shared computation per key in flight.

The extension re-renders and re-sends the same answer; with the key built from the index
build, the options and the normalised text, a repeat costs a dictionary look-up. Identical
requests that arrive while the first is still computing wait for that one result instead
of queueing the same work again ("single flight"). When every waiter has gone away (client
disconnects, deadlines), the computation is cancelled so its queued job is dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

CacheState = Literal["hit", "miss", "joined", "off"]


def cache_key(build: str, text: str, **options: object) -> bytes:
    """A digest of everything the result depends on (the text is already normalised)."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(orjson.dumps({"build": build, "options": options}, option=orjson.OPT_SORT_KEYS))
    digest.update(b"\x00")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.digest()


@dataclass(slots=True)
class _Flight:
    task: asyncio.Task[dict[str, Any]]
    waiters: int = 0


class ResultCache:
    """LRU bounded by entry count and by the serialised size of the results."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[bytes, tuple[dict[str, Any], int]] = OrderedDict()
        self._flights: dict[bytes, _Flight] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def get(self, key: bytes) -> dict[str, Any] | None:
        """The cached result (marked most recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: bytes, value: dict[str, Any], size: int) -> None:
        """Store ``value`` (never mutated afterwards) taking ``size`` bytes; evicts LRU."""
        if not self.enabled or size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (value, size)
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.bytes -= evicted

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0

    async def get_or_compute(
        self, key: bytes, compute: Callable[[], Awaitable[dict[str, Any]]],
    ) -> tuple[dict[str, Any], CacheState]:
        """The cached result, else the shared result of ``compute()`` (then cached)."""
        if not self.enabled:
            return await compute(), "off"
        found = self.get(key)
        if found is not None:
            return found, "hit"
        flight = self._flights.get(key)
        state: CacheState = "joined"
        if flight is None:
            flight = _Flight(asyncio.ensure_future(compute()))
            self._flights[key] = flight
            flight.task.add_done_callback(lambda task: self._landed(key, task))
            state = "miss"
        flight.waiters += 1
        try:
            # shield: one waiter's cancellation must not cancel the others' result.
            return await asyncio.shield(flight.task), state
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()

    def _landed(self, key: bytes, task: asyncio.Task[dict[str, Any]]) -> None:
        if self._flights.get(key) is not None and self._flights[key].task is task:
            del self._flights[key]
        if task.cancelled() or task.exception() is not None:
            return  # errors are not cached: the next request tries again
        result = task.result()
        self.put(key, result, len(orjson.dumps(result)))
