"""Connection floods against a real ``docvouch serve`` process on 127.0.0.1 (RELIABILITY C1,
C2, C3, C6, H11 and "overload degrades"): real sockets, real worker processes, no mocks.

Figures are printed (``pytest -s`` shows them); the assertions are behaviour with generous
time bounds, so a loaded 2-core CI machine passes for the right reason and a service that
blocks its event loop, leaks, or lets memory follow the flood still fails.

* C1: 1,000 concurrent ``GET /healthz`` all get 200.
* C2: 1,000 sockets with unfinished headers do not slow ``/healthz``; the server closes them
  itself after ``keepalive_timeout_s`` (aiohttp's keep-alive timer, which starts when the
  connection opens, is its only limit on unfinished headers).
* C3: a 1 MiB body sent at 10 bytes a second ties up no worker and gets 408 at the request's
  deadline; the server then reads (and drops) what still comes for 10 s (aiohttp's
  lingering time) and closes the connection.
* Body budget: with ``queue_max + workers`` unfinished bodies, the next verify is refused
  with 503 + Retry-After before its body is read; bodies declaring a maximum size are
  priced by that length before they are read, and refused unread once the queue could not
  finish them in time.
* L1's clients, which resend at once after a 503: the server does not read their
  connection again until about Retry-After has passed; a large body refused unread is
  dropped after that hold without being copied, and the connection closed with a FIN.
* H11: 129 headers, and CR, LF or NUL inside a header, are refused by aiohttp's parser with
  400 and never reach the app.
* C6: 1,000 clients that leave 100 ms into a verify leave no memory, descriptor, queued job
  or in-flight request behind.
* Flood: 1,000 connections sending maximum-size answers: every ``/healthz`` is answered,
  half of them within 50 ms, excess work gets 503 + Retry-After and nothing else fails,
  memory stays under a bound derived from the settings, and a normal verify is answered
  within 3 s of the flood's end.
"""

from __future__ import annotations

import asyncio
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from deploy_support import need
from flood_support import (
    KiB,
    MemorySampler,
    MiB,
    exchange,
    head_and_body,
    metrics,
    open_fds,
    percentile,
    post_verify,
    process_tree,
    raise_open_files_limit,
    reset,
    rss_bytes,
    status_of,
    tree_pss,
)
from server_process import ServerProcess
from service_support import answer_of, max_size_answer, wait_ready

from docvouch import health, listeners
from docvouch.connections import HOLD_MAX_S
from docvouch.settings import build_settings

pytestmark = pytest.mark.timeout(180)
CONNECTIONS = 1_000
OPEN_FILES = 4 * CONNECTIONS  # test process and server each hold ~1,000 sockets, plus slack
DEADLINE_S = 3.0  # request_deadline_s of the shared server (C3 waits for it)
KEEPALIVE_S = 7.0  # keepalive_timeout_s of the shared server (C2 waits for it)
LINGERING_S = 10.0  # aiohttp's lingering_time: it reads an unfinished body this long at most
FLOOD_CLIENT = Path(__file__).with_name("flood_support.py")
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: docvouch\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def open_files() -> Iterator[None]:
    """Room for the sockets, in this process and (inherited) in the servers it starts."""
    before = raise_open_files_limit(OPEN_FILES)
    yield
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != before:
        resource.setrlimit(resource.RLIMIT_NOFILE, (before, hard))


@pytest.fixture(scope="module")
def server(open_files: None, service_home: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One worker, a 3 s request deadline and a 7 s keep-alive timeout (C1, C2, C3, H11)."""
    log = tmp_path_factory.mktemp("floods") / "serve.log"
    with ServerProcess(service_home, log, workers=1, request_deadline_s=DEADLINE_S,
                       keepalive_timeout_s=KEEPALIVE_S) as proc:
        asyncio.run(_ready(proc.base))
        yield proc


async def _ready(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, base)


async def settled(session: aiohttp.ClientSession, base: str, deadline_s: float = 30.0
                  ) -> dict[str, float]:
    """Poll /metrics until nothing is queued, running, held or in flight but this request."""
    end = time.monotonic() + deadline_s
    while True:
        found = await metrics(session, base)
        if (found["docvouch_http_requests_in_flight"] == 1
                and found["docvouch_queue_waiting"] == 0
                and found["docvouch_workers_busy"] == 0
                and found["docvouch_request_body_bytes"] == 0):
            return found
        if time.monotonic() > end:
            raise AssertionError(f"the service did not settle within {deadline_s} s: " + str(
                {k: v for k, v in found.items() if "in_flight" in k or "queue" in k
                 or "busy" in k or "body" in k}))
        await asyncio.sleep(0.05)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --- C1 --------------------------------------------------------------------------------


async def test_a_thousand_concurrent_health_checks_all_get_200(server: ServerProcess) -> None:
    async def probe() -> tuple[int, float]:
        started = time.perf_counter()
        response = await exchange(server.port, HEALTHZ, timeout_s=30)
        return status_of(response), time.perf_counter() - started

    results = await asyncio.gather(*(probe() for _ in range(CONNECTIONS)))
    latencies = [took for _status, took in results]
    print(f"\nC1: {CONNECTIONS} concurrent /healthz (connect + request + close): "
          f"p50 {ms(percentile(latencies, 0.5))}, p99 {ms(percentile(latencies, 0.99))}, "
          f"max {ms(max(latencies))}")
    assert Counter(status for status, _took in results) == {200: CONNECTIONS}
    assert percentile(latencies, 0.99) < 5.0


# --- C2 --------------------------------------------------------------------------------


async def test_a_thousand_unfinished_headers_do_not_slow_health_and_are_closed_by_the_server(
        server: ServerProcess) -> None:
    fds_before = open_fds(server.pid)
    held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    for _ in range(CONNECTIONS):
        # Timed from before the connect: the server's timer cannot start earlier, whereas
        # this loop may resume late after the handshake on a busy machine.
        opening = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: docvouch\r\nX-Slow: ")  # never ends
        held.append((reader, writer, opening))
    hold_until = time.monotonic() + 5.0
    closed: list[tuple[float, bytes]] = []

    async def watch(reader: asyncio.StreamReader, opened: float) -> None:
        data = await reader.read()  # until the server closes the socket
        closed.append((time.monotonic() - opened, data))

    watchers = [asyncio.create_task(watch(r, t)) for r, _w, t in held]
    latencies = []
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < hold_until:
            started = time.perf_counter()
            async with session.get(server.base + "/healthz") as response:
                assert response.status == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)
        fds_held = open_fds(server.pid)
        assert not closed, "a socket with unfinished headers was closed before the timeout"
        await asyncio.wait_for(asyncio.gather(*watchers), KEEPALIVE_S + 10)
        for _reader, writer, _t in held:
            writer.close()
        after = [took for took, _data in closed]
        print(f"\nC2: /healthz while {CONNECTIONS} sockets held unfinished headers "
              f"({len(latencies)} probes): median {ms(statistics.median(latencies))}, "
              f"p90 {ms(percentile(latencies, 0.9))}, max {ms(max(latencies))}; server FDs "
              f"{fds_before} → {fds_held}; the server closed them "
              f"{min(after):.2f}-{max(after):.2f} s after they opened "
              f"(keepalive_timeout_s={KEEPALIVE_S:g}), without a response")
        assert fds_held >= fds_before + CONNECTIONS  # all accepted and held meanwhile
        assert statistics.median(latencies) < 0.1 and percentile(latencies, 0.9) < 0.1
        assert all(data == b"" for _took, data in closed)  # no response: just closed
        assert min(after) >= KEEPALIVE_S - 0.5 and max(after) <= KEEPALIVE_S + 3
        end = time.monotonic() + 10
        while open_fds(server.pid) > fds_before + 2 and time.monotonic() < end:
            await asyncio.sleep(0.05)
        assert open_fds(server.pid) <= fds_before + 2
        async with session.post(server.base + "/v1/verify",
                                json={"text": "After C2, use `os.getcwd()`."}) as response:
            assert response.status == 200


# --- C3 --------------------------------------------------------------------------------


async def test_a_body_sent_at_ten_bytes_a_second_ties_up_no_worker_and_ends_at_the_deadline(
        server: ServerProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    sent_headers = time.monotonic()
    writer.write(b"POST /v1/verify HTTP/1.1\r\nHost: docvouch\r\nContent-Type: application/json"
                 b"\r\nX-Request-ID: c3-trickle\r\nContent-Length: %d\r\n\r\n" % MiB)
    body = b'{"text": "' + b"slow " * (MiB // 5)

    async def trickle() -> int:
        sent = 0
        try:
            for byte in body:
                writer.write(bytes((byte,)))
                await writer.drain()
                sent += 1
                await asyncio.sleep(0.1)
        except (ConnectionError, OSError):
            pass  # the server closed the connection
        return sent

    async def response() -> tuple[bytes, float, float]:
        head = await reader.readuntil(b"\r\n\r\n")
        headers, _ = head_and_body(head)
        payload = await reader.readexactly(int(headers["content-length"]))
        answered = time.monotonic()
        await reader.read()  # until the server closes the connection
        return head + payload, answered, time.monotonic()

    trickling = asyncio.create_task(trickle())
    answer = asyncio.create_task(response())
    async with aiohttp.ClientSession() as session:
        await asyncio.sleep(1.0)
        during = await metrics(session, server.base)
        started = time.perf_counter()
        async with session.post(server.base + "/v1/verify",
                                json={"text": "Meanwhile, `os.path.isdir(p)` tests a folder."}
                                ) as verified:
            assert verified.status == 200
        other_took = time.perf_counter() - started
        raw, answered, closed = await asyncio.wait_for(answer, DEADLINE_S + LINGERING_S + 10)
        sent = await trickling
        after = await settled(session, server.base)
    writer.close()
    headers, problem_body = head_and_body(raw)
    problem = orjson.loads(problem_body)
    print(f"\nC3: 1 MiB declared, 1 byte / 100 ms: a concurrent verify took {ms(other_took)}; "
          f"408 {problem['code']} {answered - sent_headers:.2f} s after the headers "
          f"(request_deadline_s={DEADLINE_S:g}); connection closed by the server "
          f"{closed - answered:.2f} s after the 408 (lingering); {sent} bytes sent")
    # While it trickled: its 1 MiB is reserved in the body budget, no worker is busy.
    assert during["docvouch_workers_busy"] == 0
    assert during["docvouch_request_body_bytes"] == MiB
    assert other_took < 2.0
    assert status_of(raw) == 408 and problem["code"] == "request_timeout"
    assert headers["content-type"] == "application/problem+json"
    assert DEADLINE_S - 0.1 <= answered - sent_headers <= DEADLINE_S + 2
    assert closed - answered <= LINGERING_S + 3
    assert after["docvouch_request_body_bytes"] == 0
    line = next(x for x in server.lines() if x.get("request_id") == "c3-trickle")
    assert line["status"] == 408


async def fill_body_budget(server: ServerProcess, session: aiohttp.ClientSession
                           ) -> tuple[list[asyncio.StreamWriter], float]:
    """Hold the whole body budget of the shared server; its writers and the bytes held.

    Each holder sends the first 10 bytes of a chunked body: its length is unknown, so it
    holds max_body_bytes of the budget. (A body declaring a maximum size is priced by that
    length before it is read, and the queue refuses those first: see the test below.)
    """
    settings_ = build_settings({"workers": 1})  # the shared server's limits
    slots = settings_.queue_max + settings_.workers  # (queue_max + workers) × max_body_bytes
    holders = []
    for n in range(slots):
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /v1/verify HTTP/1.1\r\nHost: docvouch\r\nContent-Type: "
                     b"application/json\r\nX-Request-ID: budget-%d\r\n"
                     b'Transfer-Encoding: chunked\r\n\r\na\r\n{"text": "\r\n' % n)
        holders.append(writer)
    end = time.monotonic() + DEADLINE_S / 2
    while (await metrics(session, server.base))["docvouch_request_body_bytes"] < \
            slots * settings_.max_body_bytes and time.monotonic() < end:
        await asyncio.sleep(0.02)
    return holders, (await metrics(session, server.base))["docvouch_request_body_bytes"]


async def test_bodies_past_the_body_budget_are_refused_before_they_are_read(
        server: ServerProcess) -> None:
    settings_ = build_settings({"workers": 1})
    slots = settings_.queue_max + settings_.workers
    async with aiohttp.ClientSession() as session:
        holders, held = await fill_body_budget(server, session)
        started = time.perf_counter()
        async with session.post(server.base + "/v1/verify",
                                json={"text": "No room: `os.getcwd()`."}) as refused:
            problem = await refused.json(content_type=None)
        took = time.perf_counter() - started
        for writer in holders:
            reset(writer)
        await settled(session, server.base)
        async with session.post(server.base + "/v1/verify",
                                json={"text": "Room again: `os.getcwd()`."}) as accepted:
            assert accepted.status == 200
    print(f"\nBody budget: {slots} unfinished chunked bodies hold {held / MiB:.0f} MiB; "
          f"the next verify got {refused.status} {problem['code']} in {ms(took)}")
    assert held == slots * settings_.max_body_bytes
    assert refused.status == 503 and problem["code"] == "overloaded"
    assert int(refused.headers["Retry-After"]) >= 1
    assert took < 1.0


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length: status, headers, body."""
    head = await reader.readuntil(b"\r\n\r\n")
    headers, _ = head_and_body(head)
    return status_of(head), headers, await reader.readexactly(int(headers["content-length"]))


async def test_a_client_that_resends_at_once_after_a_503_waits_its_retry_after(
        server: ServerProcess) -> None:
    """RELIABILITY L1's clients: after an ``overloaded`` 503 on a kept-alive connection the
    server reads nothing more from it for 50-100% of Retry-After, doubled for each such
    503 in a row. A request resent at once waits in the socket meanwhile (costing the
    event loop nothing), other connections are served as usual, and a request that is
    not refused makes the next hold start over."""
    def verify(n: int) -> bytes:  # a complete small request, kept alive
        return post_verify(orjson.dumps({"text": f"Hold {n}: `os.getcwd()`."}),
                           request_id=f"hold-{n}", close=False)

    async with aiohttp.ClientSession() as session:
        holders, _held = await fill_body_budget(server, session)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(verify(1))
        first, headers, _ = await read_response(reader)
        retry_after = int(headers["retry-after"])
        writer.write(verify(2))  # at once, ignoring Retry-After
        sent = time.perf_counter()
        probe = time.perf_counter()
        async with session.get(server.base + "/healthz") as health:  # another connection
            assert health.status == 200
        probe = time.perf_counter() - probe
        second, _h, _b = await read_response(reader)
        waited = time.perf_counter() - sent
        for holder in holders:
            reset(holder)
        await settled(session, server.base)
        writer.write(verify(3))  # read once the second hold is over: budget free again
        third, _h, _b = await read_response(reader)
        served = time.perf_counter()
        writer.write(verify(4))  # not held: the last request on it was served
        fourth, _h, _b = await read_response(reader)
        served = time.perf_counter() - served
        writer.close()
    lines = {x.get("request_id"): x for x in server.lines() if x.get("event") == "request"}
    held = [lines[f"hold-{n}"].get("held_s") for n in (1, 2, 3, 4)]
    print(f"\nHold: 503 with Retry-After {retry_after}; resent at once, answered "
          f"{ms(waited)} later (holds {held}); /healthz on another connection meanwhile "
          f"{ms(probe)}; after a 200 the next request took {ms(served)}")
    assert (first, second, third, fourth) == (503, 503, 200, 200)
    first_hold = min(retry_after, HOLD_MAX_S)
    second_hold = min(2 * retry_after, HOLD_MAX_S)  # doubled: the second 503 in a row
    assert 0.5 * first_hold <= held[0] <= first_hold
    assert 0.5 * second_hold <= held[1] <= second_hold
    assert held[2] is None and held[3] is None
    assert waited >= held[0] - 0.05  # the resent request was only read after the hold
    assert probe < 0.5 and served < 0.5


async def test_a_large_body_refused_unread_is_dropped_without_copying_and_closed_cleanly(
        server: ServerProcess) -> None:
    """A maximum-size body refused before it is read (here: the body budget is full): the
    client, which sends its whole body before it reads, gets the 503, then the server
    takes the rest of the body off the socket after the hold (a duplicate descriptor reads
    it with MSG_TRUNC, so nothing is copied into the service) and closes the connection
    with a FIN, not a reset. No descriptor is left behind."""
    settings_ = build_settings({"workers": 1})
    body = b'{"text": "Dropped: `os.getcwd()`."}'
    body += b" " * (settings_.max_body_bytes - len(body))
    async with aiohttp.ClientSession() as session:
        await settled(session, server.base)
        fds_before = open_fds(server.pid)
        holders, _held = await fill_body_budget(server, session)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(post_verify(body, request_id="drained", close=False))
        started = time.perf_counter()
        await writer.drain()  # the whole body is sent (or buffered by the kernels)
        status, headers, problem = await read_response(reader)
        rest = await reader.read()  # b"" once the server has closed (a reset would raise)
        closed = time.perf_counter() - started
        writer.close()
        for holder in holders:
            reset(holder)
        await settled(session, server.base)
        end = time.monotonic() + 5
        while open_fds(server.pid) > fds_before and time.monotonic() < end:
            await asyncio.sleep(0.05)
        fds_after = open_fds(server.pid)
    line = next(x for x in server.lines() if x.get("request_id") == "drained")
    print(f"\nDrain: {len(body):,}-byte body refused unread with {status}; connection closed "
          f"by the server {ms(closed)} after sending (hold {line.get('held_s')} s); server "
          f"FDs {fds_before} → {fds_after}")
    assert status == 503 and orjson.loads(problem)["code"] == "overloaded"
    assert headers["connection"].lower() == "close"
    assert rest == b""
    assert closed >= line["held_s"] - 0.05  # the rest was only read after the hold
    assert fds_after <= fds_before


async def test_large_bodies_the_queue_could_not_finish_are_refused_before_they_are_read(
        server: ServerProcess) -> None:
    """Bodies that declare a maximum size are priced by that length before they are read,
    and count as queued while they are read: once the queue (1 worker, a 3 s deadline)
    could not finish the next one in time, it is refused with 503 + Retry-After before a
    byte of its body is read, long before the body budget is full."""
    settings_ = build_settings({"workers": 1})
    declared = settings_.max_body_bytes
    sent: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    async with aiohttp.ClientSession() as session:
        await settled(session, server.base)
        for n in range(40):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"POST /v1/verify HTTP/1.1\r\nHost: docvouch\r\nContent-Type: "
                         b"application/json\r\nX-Request-ID: priced-%d\r\nContent-Length: "
                         b'%d\r\n\r\n{"text": "' % (n, declared))
            sent.append((reader, writer))
            await asyncio.sleep(0.01)  # arrive in this order

        async def answer(reader: asyncio.StreamReader) -> bytes:
            try:
                return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.5)
            except TimeoutError:
                return b""  # admitted: the server waits for the rest of the body

        answers = await asyncio.gather(*(answer(reader) for reader, _w in sent))
        held = (await metrics(session, server.base))["docvouch_request_body_bytes"]
        for _reader, writer in sent:
            reset(writer)
        await settled(session, server.base)
    admitted = [n for n, head in enumerate(answers) if not head]
    refused = [n for n, head in enumerate(answers) if head]
    lines = {x.get("request_id"): x for x in server.lines() if x.get("event") == "request"}
    print(f"\nPriced before reading: of 40 bodies declaring {declared:,} bytes, "
          f"{len(admitted)} admitted to be read ({held / MiB:.0f} MiB of the budget held), "
          f"{len(refused)} refused unread")
    assert admitted and refused and held == len(admitted) * declared
    assert held < (settings_.queue_max + settings_.workers) * declared  # the budget is not full
    assert admitted == list(range(len(admitted)))  # the first ones, until the queue was full
    for n in refused:
        headers, _ = head_and_body(answers[n])
        assert status_of(answers[n]) == 503 and int(headers["retry-after"]) >= 1
        assert lines[f"priced-{n}"]["status"] == 503


# --- H11 -------------------------------------------------------------------------------


def raw_get(request_id: str, extra: bytes = b"") -> bytes:
    return (b"GET /healthz HTTP/1.1\r\nHost: docvouch\r\nConnection: close\r\n"
            b"X-Request-ID: " + request_id.encode() + b"\r\n" + extra + b"\r\n")


REFUSED_BY_THE_PARSER = {
    # 3 headers above, so 126 more make 129: one over aiohttp's max_headers (128).
    "h11-129-headers": b"".join(b"X-Filler-%d: v\r\n" % i for i in range(126)),
    "h11-cr-in-value": b"X-Note: one\rtwo\r\n",
    "h11-lf-in-value": b"X-Note: one\ntwo\r\n",
    "h11-nul-in-value": b"X-Note: one\x00two\r\n",
    "h11-nul-in-name": b"X-No\x00te: one\r\n",
}


def refused_by_the_parser(server: ServerProcess) -> int:
    """Log lines of requests aiohttp's parser refused (logs.redact_parser_errors)."""
    return sum(1 for x in server.lines() if "refused by the parser" in x.get("event", ""))


async def test_too_many_headers_and_control_characters_never_reach_the_app(
        server: ServerProcess) -> None:
    def app_requests(found: dict[str, float]) -> float:
        return sum(v for k, v in found.items() if k.startswith("docvouch_http_requests_total{")
                   and 'route="/metrics"' not in k)

    async with aiohttp.ClientSession() as session:
        before = app_requests(await metrics(session, server.base))
        parser_lines = refused_by_the_parser(server)
        for request_id, extra in REFUSED_BY_THE_PARSER.items():
            response = await exchange(server.port, raw_get(request_id, extra))
            headers, text = head_and_body(response)
            assert status_of(response) == 400, (request_id, response[:200])
            assert headers["content-type"].startswith("text/plain")  # aiohttp's, not ours
            print(f"\nH11: {request_id}: 400 {text.decode(errors='replace')[:40]!r}")
        assert app_requests(await metrics(session, server.base)) == before
        # The boundary reaches the app, so the counter above would have seen the others.
        exactly_128 = b"".join(b"X-Filler-%d: v\r\n" % i for i in range(125))
        assert status_of(await exchange(server.port, raw_get("h11-128", exactly_128))) == 200
        assert app_requests(await metrics(session, server.base)) == before + 1
        async with session.get(server.base + "/healthz") as after:
            assert after.status == 200
    lines = server.lines()
    logged = {x.get("request_id") for x in lines if x.get("event") == "request"}
    assert "h11-128" in logged and not logged & set(REFUSED_BY_THE_PARSER)
    assert refused_by_the_parser(server) - parser_lines == len(REFUSED_BY_THE_PARSER)


# --- C6 --------------------------------------------------------------------------------


def resources(pid: int) -> dict[int, tuple[int, int]]:
    """RSS and open descriptors of every process of the server's tree."""
    return {p: (rss_bytes(p), open_fds(p)) for p in process_tree(pid)}


@pytest.mark.slow
async def test_a_thousand_clients_leaving_mid_verify_leave_nothing_behind(
        open_files: None, service_home: Path, tmp_path: Path) -> None:
    answer_words = 1_200  # about 9,000 characters: ~0.1 s of a worker

    async def leave(n: int, gate: asyncio.Semaphore) -> None:
        async with gate:
            _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(post_verify(orjson.dumps({"text": answer_of(answer_words, seed=n)})))
            await writer.drain()
            await asyncio.sleep(0.1)
            if n % 2:
                reset(writer)  # RST, as a killed client
            else:
                writer.close()  # FIN, as a client that gives up
                await writer.wait_closed()

    async def round_of(count: int, first: int) -> float:
        started = time.monotonic()
        gate = asyncio.Semaphore(50)
        await asyncio.gather(*(leave(first + n, gate) for n in range(count)))
        return time.monotonic() - started

    with ServerProcess(service_home, tmp_path / "serve.log", workers=2) as server:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, server.base)
            # Warm-up of the same size: the allocator's pools reach the size this load needs.
            await round_of(CONNECTIONS, 0)
            await settled(session, server.base)
            baseline = resources(server.pid)
            took = await round_of(CONNECTIONS, 10_000)
            found = await settled(session, server.base)
            after = resources(server.pid)

            async with session.post(server.base + "/v1/verify",
                                    json={"text": "After C6, `os.getcwd()`."}) as response:
                assert response.status == 200
        statuses = Counter(x["status"] for x in server.lines()
                           if x.get("route") == "/v1/verify" and x.get("event") == "request")
    rss_before = sum(rss for rss, _fds in baseline.values())
    rss_after = sum(rss for rss, _fds in after.values())
    print(f"\nC6: {CONNECTIONS} clients left 100 ms into a verify ({took:.1f} s, 50 at a "
          f"time, half FIN, half RST); statuses {dict(statuses)}; RSS of server + workers "
          f"{rss_before / MiB:.1f} → {rss_after / MiB:.1f} MiB (per process "
          f"{[round(r / MiB) for r, _f in baseline.values()]} → "
          f"{[round(r / MiB) for r, _f in after.values()]}); FDs per process "
          f"{[f for _r, f in baseline.values()]} → {[f for _r, f in after.values()]}; "
          f"in flight {found['docvouch_http_requests_in_flight']:g} (this scrape), queue "
          f"{found['docvouch_queue_waiting']:g}, busy {found['docvouch_workers_busy']:g}")
    assert set(after) == set(baseline), "a process of the server's tree came or went"
    assert abs(rss_after - rss_before) <= 0.1 * rss_before
    for pid, (rss, fds) in after.items():
        rss0, fds0 = baseline[pid]
        assert abs(rss - rss0) <= 0.1 * rss0, (pid, rss0, rss)
        assert abs(fds - fds0) <= max(1, 0.1 * fds0), (pid, fds0, fds)
    # Every request of both rounds is accounted for (and the check at the end). 499: the
    # handler was cancelled when its client left, its job dropped or its result discarded;
    # 503: refused as overload (the queue ahead would not have left time to run it).
    assert sum(statuses.values()) == 2 * CONNECTIONS + 1
    assert set(statuses) <= {200, 499, 503}
    assert statuses[499] >= 0.9 * 2 * CONNECTIONS


# --- overload --------------------------------------------------------------------------


def memory_bound(settings_: dict[str, int], *, baseline: int, index_bytes: int,
                 connections: int) -> tuple[int, str]:
    """The most memory (PSS of server + workers) the service may use under a flood.

    * ``baseline``: the idle tree after warm-up (interpreters, engine, forkserver image);
    * ``index_bytes``: every page of the mapped index files (shared, counted once in PSS);
    * cache: ``cache_max_bytes``: results are kept as exact-size JSON bytes and the cache
      counts them with their per-entry overhead (tests/service/test_cache.py holds the
      count within 25% of what the interpreter allocates), so 1.25 times;
    * bodies: at most ``(queue_max + workers) × max_body_bytes`` admitted at once (the body
      budget), each held either as bytes being read or as its decoded text: counted twice;
    * connections: per open connection aiohttp buffers up to 2 × its 64 KiB read buffer
      before it stops reading, plus one 256 KiB read of asyncio;
    * workers: the working set of one maximum-size verify each (measured ~10 MiB), 32 MiB.
    """
    s = build_settings(settings_)
    cache = int(1.25 * s.cache_max_bytes)
    bodies = 2 * (s.queue_max + s.workers) * s.max_body_bytes
    per_connection = 2 * 64 * KiB + 256 * KiB
    work = s.workers * 32 * MiB
    total = baseline + index_bytes + cache + bodies + connections * per_connection + work
    text = (f"{total / MiB:.0f} MiB = baseline {baseline / MiB:.0f} + index "
            f"{index_bytes / MiB:.0f} + cache 1.25 × {s.cache_max_bytes / MiB:.0f} + bodies 2 × "
            f"({s.queue_max} + {s.workers}) × {s.max_body_bytes / MiB:.0f} + {connections} "
            f"connections × {per_connection // KiB} KiB + {s.workers} workers × 32")
    return total, text


@pytest.mark.slow
async def test_a_flood_of_maximum_size_answers_keeps_health_fast_memory_bounded_and_recovers(
        open_files: None, service_home: Path, tmp_path: Path) -> None:
    flood_s = 12.0
    settings_ = {"workers": 2, "cache_max_bytes": 8 * MiB}  # queue_max, body limits: defaults
    limits = build_settings(settings_)
    probe_timeout = aiohttp.ClientTimeout(total=5.0)  # a probe slower than that fails
    with ServerProcess(service_home, tmp_path / "serve.log", health_port=True,
                       **settings_) as server:
        health_base = server.health_base
        async with aiohttp.ClientSession(timeout=probe_timeout) as session, \
                aiohttp.ClientSession(timeout=probe_timeout) as health_session:
            await wait_ready(session, server.base)

            async def verify(text: str) -> int:
                async with session.post(server.base + "/v1/verify", json={"text": text}) as r:
                    return r.status

            # One maximum-size answer in each worker: the baseline has their working set.
            assert await asyncio.gather(verify(max_size_answer(1)),
                                        verify(max_size_answer(2))) == [200, 200]
            await settled(session, server.base)
            found = await metrics(session, server.base)
            index_bytes = int(sum(v for k, v in found.items()
                                  if k.startswith("docvouch_index_bytes{")))
            baseline = tree_pss(server.pid)
            bound, explained = memory_bound(settings_, baseline=baseline,
                                            index_bytes=index_bytes, connections=CONNECTIONS)

            client = await asyncio.create_subprocess_exec(
                sys.executable, str(FLOOD_CLIENT), str(server.port), str(CONNECTIONS),
                str(flood_s), str(limits.max_body_bytes), str(limits.max_answer_chars),
                stdout=asyncio.subprocess.PIPE)
            output = asyncio.create_task(client.communicate())
            probes: list[float] = []  # on the service's port
            health_probes: list[float] = []  # on the health port (health.py)

            async def probe(client: aiohttp.ClientSession, url: str, took: list[float]) -> None:
                while not output.done():  # the client ends by itself after flood_s
                    started = time.perf_counter()
                    async with client.get(url) as response:
                        assert response.status == 200, await response.text()
                    took.append(time.perf_counter() - started)
                    await asyncio.sleep(0.1)

            with MemorySampler(server.pid) as sampler:
                await asyncio.gather(
                    probe(session, server.base + "/healthz", probes),
                    probe(health_session, health_base + "/healthz", health_probes))
            stdout, _ = await output
            assert client.returncode == 0
            # The flood has just ended (every client left): a normal verify is answered as
            # soon as the server has noticed; until then it may still be refused (503).
            ended = time.perf_counter()
            attempts = [await verify("After the flood, `os.getcwd()`.")]
            while attempts[-1] == 503 and time.perf_counter() - ended < 5:
                await asyncio.sleep(0.1)
                attempts.append(await verify("After the flood, `os.getcwd()`."))
            recovered = time.perf_counter() - ended
            await settled(session, server.base)
            after_pss = tree_pss(server.pid)
    stats = orjson.loads(stdout)
    print(f"\nFlood: {CONNECTIONS} connections × maximum-size answers "
          f"({limits.max_answer_chars:,} characters in {limits.max_body_bytes:,}-byte bodies) "
          f"for {flood_s:g} s: responses {stats}; /healthz ({len(probes)} probes) median "
          f"{ms(statistics.median(probes))}, p90 {ms(percentile(probes, 0.9))}, p99 "
          f"{ms(percentile(probes, 0.99))}, max {ms(max(probes))}; on the health port "
          f"({len(health_probes)} probes) median {ms(statistics.median(health_probes))}, "
          f"p99 {ms(percentile(health_probes, 0.99))}, max {ms(max(health_probes))}; peak PSS "
          f"{sampler.peak / MiB:.0f} MiB ({sampler.samples} samples; {after_pss / MiB:.0f} MiB "
          f"after) under the bound {explained}; a normal verify right after: "
          f"{attempts} in {ms(recovered)}")
    assert not [k for k in stats if k.startswith("error:")], stats  # every request answered
    assert set(stats) <= {"200", "503"}, stats  # no 5xx but 503, no 504, no 4xx
    assert stats.get("503", 0) > 0 and "503 without Retry-After" not in stats
    assert stats.get("200", 0) > 0  # work still got done during the flood
    # The loop is not saturated: a large body is priced by its declared length and most
    # are refused before they are read; the rest of a refused body is dropped unread (no
    # copy), after a hold that slows each flooding connection down to about Retry-After;
    # the workers run at a lower CPU priority than the loop (connections.py,
    # worker_main.py). The first second, when 1,000 connections arrive at once, and the
    # garbage collector's full passes make the slowest probes (up to ~0.9 s measured).
    assert statistics.median(probes) < 0.050, sorted(probes)[-10:]
    assert percentile(probes, 0.9) < 0.100, sorted(probes)[-10:]
    assert max(probes) < 2.5, sorted(probes)[-10:]
    # The health port's thread does not wait for the loop's queue: every probe under 50 ms
    # (measured: 11.2-20.8 ms at the slowest, against 0.37-0.49 s on the service's port).
    assert len(health_probes) >= 100 and max(health_probes) < 0.050, sorted(health_probes)[-5:]
    assert sampler.peak <= bound, explained
    # Bounded by the maximum-size jobs the workers were running when the flood ended.
    assert attempts[-1] == 200 and recovered < 3.0
    assert "Traceback" not in server.log_path.read_text()


def accept_queue_limit(port: int) -> int:
    """The accept queue limit of the socket listening on ``port`` (ss's Send-Q)."""
    need(shutil.which("ss"), "ss (Debian package iproute2)")
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         check=True, timeout=10).stdout.split()
    return int(out[2])


async def test_the_listeners_keep_their_accept_queues(service_home: Path,
                                                      tmp_path: Path) -> None:
    """1,000 clients connecting at once fit in the service's accept queue: aiohttp's sites
    call listen() again with their own default (128), which once shrank it unnoticed."""
    with ServerProcess(service_home, tmp_path / "serve.log", workers=1,
                       health_port=True) as server:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, server.base)
        somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
        assert accept_queue_limit(server.port) == min(listeners.BACKLOG, somaxconn) >= 1000
        assert accept_queue_limit(server.health_port) == min(health.BACKLOG, somaxconn)
