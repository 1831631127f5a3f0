"""A bounded LRU of verify results, plus one shared computation per key in flight.

The extension re-renders and re-sends the same answer; with the key built from the index
build, the options and the normalised text, a repeat costs a dictionary look-up. Results
are kept as the response's JSON bytes: the bound is then the memory they take (decoded
dicts took about 3.4 times their serialised size), and a hit is sent without encoding. Identical
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


@dataclass(frozen=True, slots=True)
class EncodedResult:
    """A verify result as JSON bytes, without ``took_ms`` (each response states its own),
    plus the parts the service reads itself."""

    body: bytes  # a JSON object
    summary: dict[str, Any]
    engine_ms: float
    OVERHEAD = 512  # bytes for this object and its summary, on top of the body

    @classmethod
    def of(cls, result: dict[str, Any]) -> EncodedResult:
        rest = {k: v for k, v in result.items() if k != "took_ms"}
        # An exact-size copy: orjson's bytes keep the capacity their buffer grew to (up to
        # twice the length), which would make the cache's byte count an undercount.
        body = memoryview(orjson.dumps(rest)).tobytes()
        return cls(body, rest.get("summary") or {}, result.get("took_ms", 0.0))

    @property
    def size(self) -> int:
        return len(self.body) + self.OVERHEAD

    def response_body(self, took_ms: float) -> bytes:
        """The body to send: the stored object with this response's ``took_ms`` added."""
        head = self.body[:-1]  # the object without its closing brace
        comma = b"," if head != b"{" else b""
        return head + comma + b'"took_ms":' + orjson.dumps(took_ms) + b"}"


@dataclass(slots=True)
class _Flight:
    task: asyncio.Task[EncodedResult]
    waiters: int = 0


class ResultCache:
    """LRU bounded by entry count and by the bytes the stored results take."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[bytes, EncodedResult] = OrderedDict()
        self._flights: dict[bytes, _Flight] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def get(self, key: bytes) -> EncodedResult | None:
        """The cached result (marked most recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, value: EncodedResult) -> None:
        """Store ``value`` (immutable); evicts the least recently used past either bound."""
        if not self.enabled or value.size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        self._entries[key] = value
        self.bytes += value.size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.size

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0

    async def get_or_compute(
        self, key: bytes, compute: Callable[[], Awaitable[EncodedResult]],
        admit: Callable[[], None] | None = None,
    ) -> tuple[EncodedResult, CacheState]:
        """The cached result, else the shared result of ``compute()`` (then cached).
        Workers encode their results (``EncodedResult.of``), so none is decoded here.

        ``admit()``, when given, is called before a new computation starts (not for a hit
        or a join): it raises to refuse the request at once, without a task.
        """

        if not self.enabled:
            if admit is not None:
                admit()
            return await compute(), "off"
        found = self.get(key)
        if found is not None:
            return found, "hit"
        flight = self._flights.get(key)
        state: CacheState = "joined"
        if flight is None:
            if admit is not None:
                admit()
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

    def _landed(self, key: bytes, task: asyncio.Task[EncodedResult]) -> None:
        if self._flights.get(key) is not None and self._flights[key].task is task:
            del self._flights[key]
        if task.cancelled() or task.exception() is not None:
            return  # errors are not cached: the next request tries again
        self.put(key, task.result())
