"""Helpers for the connection-flood tests (test_connection_floods.py).

* the open-files limit a test with 1,000 sockets needs, raised or failed with a clear message;
* measurements of a real server's process tree from ``/proc``: PSS and RSS, open descriptors;
* raw HTTP/1.1 over asyncio sockets, and the service's metrics as numbers;
* a flood client that runs as its own process, so its CPU is not spent on the event loop
  that times ``/healthz``. Run as a script it is that client::

      python flood_support.py PORT CONNECTIONS SECONDS MAX_BODY_BYTES MAX_ANSWER_CHARS

  Every connection sends maximum-size verify requests, one after the other, until SECONDS
  have passed; then every connection is dropped at once (the flood ends). It prints one JSON
  object: status counts, 503s without Retry-After, and connection errors by type.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import struct
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

SERVICE_TESTS = Path(__file__).resolve().parents[1] / "service"
if str(SERVICE_TESTS) not in sys.path:
    sys.path.insert(0, str(SERVICE_TESTS))

from server_process import descendants  # noqa: E402
from service_support import answer_of  # noqa: E402

KiB = 1024
MiB = 1024 * KiB


# --- limits --------------------------------------------------------------------------


def raise_open_files_limit(needed: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE to ``needed`` (children inherit it).

    Returns the previous soft limit. A hard limit below ``needed`` cannot be raised by an
    unprivileged process: the test fails and says how to fix the machine (no skip: a
    machine that cannot hold the sockets cannot show the property).
    """
    import pytest

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed or soft == resource.RLIM_INFINITY:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.fail(
            f"this test needs {needed} open files (1,000 sockets here and 1,000 in the server "
            f"it starts, with room), but the hard limit on open files is {hard}: raise it "
            f"(`ulimit -Hn {needed}` as root, LimitNOFILE= in a systemd unit, "
            f"`--ulimit nofile={needed}:{needed}` for docker) and run again",
            pytrace=False)
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return soft


# --- /proc ---------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and every live process below it (forkserver, resource tracker, workers)."""
    return [pid, *sorted(descendants(pid))]


def _proc_kib(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:  # the process has just exited
        pass
    return 0


def rss_bytes(pid: int) -> int:
    """Resident set size from ``/proc/<pid>/status`` (VmRSS)."""
    return _proc_kib(f"/proc/{pid}/status", "VmRSS") * KiB


def pss_bytes(pid: int) -> int:
    """Proportional set size from ``/proc/<pid>/smaps_rollup``: pages shared by several
    processes (the forkserver's copy-on-write image, the mapped index) count once in all."""
    pss = _proc_kib(f"/proc/{pid}/smaps_rollup", "Pss")
    return pss * KiB if pss else rss_bytes(pid)


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def tree_pss(pid: int) -> int:
    return sum(pss_bytes(p) for p in process_tree(pid))


class MemorySampler:
    """Samples the PSS of a process tree every ``interval_s`` in a thread; keeps the peak."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_pss(self.pid))
            self.samples += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- HTTP ----------------------------------------------------------------------------


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP response (0 when nothing came back)."""
    parts = response.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def head_and_body(response: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    return headers, body


async def exchange(port: int, request: bytes, *, timeout_s: float = 10.0) -> bytes:
    """Send ``request`` on a new connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        return await asyncio.wait_for(reader.read(), timeout_s)
    finally:
        writer.close()


def post_verify(body: bytes, *, request_id: str = "", close: bool = True) -> bytes:
    """A raw ``POST /v1/verify`` carrying ``body``."""
    return (b"POST /v1/verify HTTP/1.1\r\nHost: docvouch\r\nContent-Type: application/json\r\n"
            + (f"X-Request-ID: {request_id}\r\n".encode() if request_id else b"")
            + (b"Connection: close\r\n" if close else b"")
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), as a client that crashes or is killed does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def metrics(session: Any, base: str) -> dict[str, float]:
    """``/metrics`` as {series: value}, e.g. ``'docvouch_queue_waiting': 0.0``."""
    async with session.get(base + "/metrics") as response:
        text = await response.text()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# --- the flood client (its own process) ----------------------------------------------


def flood_head(text_base: str, connection: int, n: int, *, max_answer_chars: int) -> bytes:
    """The JSON of a distinct answer of exactly ``max_answer_chars`` (no cache hits)."""
    import orjson

    prefix = f"Flood {connection:04d}/{n:05d}. "
    return orjson.dumps({"text": prefix + text_base[:max_answer_chars - len(prefix)]})


async def _flood_connection(port: int, connection: int, end: float, text_base: str,
                            max_body: int, max_chars: int, stats: Counter[str]) -> None:
    padding = b" " * (64 * KiB)  # JSON allows trailing whitespace: every body is max_body
    n = 0
    while time.monotonic() < end:
        n += 1
        head = flood_head(text_base, connection, n, max_answer_chars=max_chars)
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /v1/verify HTTP/1.1\r\nHost: docvouch\r\n"
                         b"Content-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n" % max_body + head)
            left = max_body - len(head)
            while left > 0:
                writer.write(padding[:left])
                left -= min(left, len(padding))
                await writer.drain()
            response = await reader.read()
        except (ConnectionError, OSError) as exc:
            stats["error:" + type(exc).__name__] += 1
            await asyncio.sleep(0.05)
            continue
        finally:
            if writer is not None:
                writer.transport.abort()
        status = status_of(response)
        stats[str(status)] += 1
        if status == 503 and b"\r\nretry-after: " not in response.lower():
            stats["503 without Retry-After"] += 1


async def flood(port: int, connections: int, seconds: float, max_body: int,
                max_chars: int) -> dict[str, int]:
    """``connections`` clients sending maximum-size verifies until ``seconds`` have passed;
    then every connection is dropped (requests in flight are abandoned, as a flood that
    stops does)."""
    text_base = answer_of(max_chars // 4, seed=0)
    assert len(text_base) >= max_chars, "the answer template is too short"
    stats: Counter[str] = Counter()
    end = time.monotonic() + seconds
    tasks = [asyncio.create_task(_flood_connection(port, i, end, text_base, max_body,
                                                   max_chars, stats))
             for i in range(connections)]
    await asyncio.wait(tasks, timeout=seconds)
    for task in tasks:
        task.cancel()  # the transports are aborted in the tasks' finally blocks
    await asyncio.gather(*tasks, return_exceptions=True)
    return dict(stats)


if __name__ == "__main__":
    import orjson

    port_, conns, secs, body_bytes, chars = sys.argv[1:6]
    result = asyncio.run(flood(int(port_), int(conns), float(secs), int(body_bytes),
                               int(chars)))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
