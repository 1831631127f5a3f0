"""HTTP load benchmark: answers/s and latency of POST /v1/verify over loopback.

Starts ``python -m docvouch serve --workers 2`` on a free port (or uses ``--url``), then for
each concurrency runs closed-loop clients for ``--seconds``: every client sends its next
request as soon as the previous one is answered. Two workloads, labelled in the output:

* ``distinct``: every request carries a different answer, so every one is computed by a
  worker (the honest throughput of the engine behind the service);
* ``cached``: the same answer again and again, as when the extension re-renders a page
  (served from the result cache after the first request).

A 503 is counted apart from errors; the client then waits for its Retry-After, as the
extension does. Errors are every other non-200 status and every transport failure.

The load generator shares the 2 cores with the service. ``--client wrk`` drives the same
requests with wrk (``bench/load.lua``), which costs the machine far less CPU per request
than the Python client. ``--rate`` adds open-loop rows: requests are sent on a fixed
schedule over at most 16 connections (plain HTTP/1.1 with pre-encoded bodies, as cheap a
client as wrk) and latency counts from the scheduled time, so a slow server cannot hide
its queueing (no coordinated omission). ``--client raw`` runs the closed loop on that same
cheap client and keeps each answer's send time, so the report can set the row's fast
seconds beside its slow ones (the machine's speed, not the load, differs). Every client
reads the engine's own time per answer from Server-Timing: the gauge of how fast the
machine ran during a row.

This machine's speed drifts from one minute to the next, so one row can land anywhere in a
wide range. ``--repeat N`` runs every row N times, in rounds, and adds a table of medians
and ranges; the targets then say in how many of the rows they held.

    python bench/load.py                       # 2 workers, c = 1, 16, 256
    python bench/load.py --client wrk --rate 100 --write bench/RESULTS.md
    python bench/load.py --client wrk --answers typical --workloads distinct \
        --concurrency 16 --repeat 5            # one target, five times
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

import benchkit  # bench/ is the script directory, first on sys.path
from docvouch import accel

HERE = Path(__file__).resolve().parent
ANSWERS = HERE / "labelled" / "answers"
# The answer issue 2 names (about 400 words, about 15 claims, written as an assistant
# writes); bench/latency.py times the engine on it too.
TYPICAL_ANSWER = HERE / "answers" / "answer_400w_15claims.md"
SECTION = "## HTTP service throughput (issue 3)"
TARGET_WORDS = 400


def build_answer(words: int = TARGET_WORDS) -> str:
    """About ``words`` words of realistic markdown: labelled answers, cut at a paragraph
    boundary outside code fences once ``words`` is reached."""
    parts: list[str] = []
    for path in sorted(ANSWERS.glob("*.md")):
        for paragraph in path.read_text().strip().split("\n\n"):
            parts.append(paragraph)
            text = "\n\n".join(parts)
            if len(text.split()) >= words and text.count("```") % 2 == 0:
                return text + "\n"
    return "\n\n".join(parts) + "\n"


def answers(names: list[str]) -> dict[str, str]:
    """``typical``: the issue's 400-word answer; ``labelled``: 400 words of whole labelled
    answers, about twice as many claims (the harder load)."""
    made = {"typical": lambda: TYPICAL_ANSWER.read_text(encoding="utf-8"),
            "labelled": build_answer}
    return {name: made[name]() for name in names}


def claim_count(text: str) -> int:
    from docvouch.claims import extract_claims  # the service's own splitter

    return len(extract_claims(text).claims)


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of already sorted values (nearest rank), NaN when there are none."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else math.nan


@dataclass
class Result:
    workload: str
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    engine_ms: list[float] = field(default_factory=list)  # from Server-Timing, misses only
    busy: int = 0  # 503
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    client: str = "python"
    answered: int | None = None  # 200s, when the client reports counts instead of samples
    answer: str = "typical"  # which of answers() was sent
    engine: str = "compiled"  # how the server ran the engine: compiled (mypyc) or python
    fixed_ms: dict[float, float] = field(default_factory=dict)  # percentile -> ms (wrk)
    probe_ms: tuple[float, float] = (math.nan, math.nan)  # host_probe_ms() before, after
    # (sent, seconds after the window opened; latency, s; engine ms or None): raw closed loop
    samples: list[tuple[float, float, float | None]] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def record(self, status: int, latency: float, engine_ms: float | None) -> None:
        """One reply inside the measured window: a 200's latency (and the engine's time,
        when a worker computed it), a 503 counted apart, any other status an error."""
        if status == 200:
            self.latencies.append(latency)
            if engine_ms is not None:
                self.engine_ms.append(engine_ms)
        elif status == 503:
            self.busy += 1
        else:
            self.error(f"HTTP {status}")

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def count(self) -> int:
        return len(self.latencies) if self.answered is None else self.answered

    def percentile_ms(self, q: float) -> float:
        if q in self.fixed_ms:
            return self.fixed_ms[q]
        return percentile(sorted(self.latencies), q) * 1000

    def row(self) -> str:
        engine = f"{statistics.median(self.engine_ms):.1f}" if self.engine_ms else "–"
        return (f"| {self.answer} | {self.engine} | {self.workload} | {self.client} "
                f"| {self.concurrency} "
                f"| {self.rate:,.1f} | {self.percentile_ms(0.5):.1f} "
                f"| {self.percentile_ms(0.99):.1f} | {engine} | {self.count:,} | {self.busy:,} "
                f"| {self.errors:,} | {self.probe_ms[0]:.1f} / {self.probe_ms[1]:.1f} |")


HEADER = ("| answer | engine | workload | client | concurrency | answers/s | p50 ms | p99 ms "
          "| engine p50 ms | 200s | 503s | errors | host probe ms (before / after) |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
ENGINE_RE = re.compile(r"engine;dur=([0-9.]+)")


def engine_time(server_timing: str) -> float | None:
    """The engine's milliseconds from a reply's Server-Timing header when a worker computed
    the answer (a cache miss); None for a cached answer or no header."""
    found = ENGINE_RE.search(server_timing) if 'desc="miss"' in server_timing else None
    return float(found.group(1)) if found else None


# In every distinct answer: no two rows (repeated ones included), and no two runs against
# one server, send the same text (a repeat would be served by the result cache and inflate
# the row). Each row takes a fresh id from the clock.


async def run_level(url: str, answer: str, workload: str, concurrency: int, seconds: float,
                    warmup_s: float) -> Result:
    """Closed-loop clients for ``seconds`` after ``warmup_s``; only the measured window counts."""
    result = Result(workload, concurrency, seconds)
    row_id = time.time_ns()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    counter = 0
    start = time.perf_counter() + warmup_s
    end = start + seconds

    def next_text() -> str:
        nonlocal counter
        counter += 1
        # A unique first line makes a distinct answer (one more claim; the worker's
        # snippet and passage caches stay warm, as the section's text says).
        return answer if workload == "cached" else \
            f"Variant {row_id}-{concurrency}-{counter}.\n\n{answer}"

    async def client(session: aiohttp.ClientSession) -> None:
        while (sent := time.perf_counter()) < end:
            body = {"text": next_text(), "source": {"site": "bench"}}
            try:
                async with session.post(url + "/v1/verify", json=body) as response:
                    await response.read()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    engine = engine_time(response.headers.get("Server-Timing", ""))
            except (aiohttp.ClientError, TimeoutError) as exc:
                if start <= time.perf_counter() <= end:
                    result.error(type(exc).__name__)
                continue
            done = time.perf_counter()
            # Throughput counts what completes inside the window, whenever it was sent.
            if start <= done <= end:
                result.record(status, done - sent, engine)
            if status == 503:
                await asyncio.sleep(min(float(retry_after or 1), max(0.0, end - done)))

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    return result


class RawHttp:
    """POST /v1/verify as plain HTTP/1.1 on asyncio streams, the bodies pre-encoded: a few
    microseconds of client CPU per request. (aiohttp's client costs milliseconds, which on
    these shared 2 cores the workers would lose: at 16 clients it halves the throughput.)"""

    def __init__(self, url: str, answer: str) -> None:
        target = urlsplit(url)
        self.host, self.port = target.hostname or "127.0.0.1", target.port or 80
        self.head = (f"POST /v1/verify HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n").encode()
        self.tail = json.dumps(answer).encode()[1:] + b"}"  # the answer as a JSON string

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    def request(self, variant: str | None) -> bytes:
        """The request for the answer, under a first line of its own unless ``variant`` is
        None (the same answer again)."""
        first = b"" if variant is None else b"Variant %s.\\n\\n" % variant.encode()
        body = b'{"source":{"site":"bench"},"text":"' + first + self.tail
        return self.head % len(body) + body

    @staticmethod
    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       request: bytes) -> tuple[int, float | None]:
        """Send one request; its status and the engine's time from Server-Timing (a miss)."""
        writer.write(request)
        status = int((await reader.readline()).split()[1])
        length, engine = 0, None
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "server-timing":
                engine = engine_time(value)
        await reader.readexactly(length)
        return status, engine


TRANSPORT_ERRORS = (OSError, ValueError, IndexError, asyncio.IncompleteReadError)


async def run_raw_level(url: str, answer: str, workload: str, concurrency: int,
                        seconds: float, warmup_s: float) -> Result:
    """The closed loop of run_level() on RawHttp, each answer's send time kept: the seconds
    the machine ran fast and slow can then be told apart (speed_split())."""
    result = Result(workload, concurrency, seconds, client="raw")
    http, row_id = RawHttp(url, answer), time.time_ns()
    counter = 0
    start = time.perf_counter() + warmup_s
    end = start + seconds

    async def client() -> None:
        nonlocal counter
        reader, writer = await http.connect()
        try:
            while (sent := time.perf_counter()) < end:
                counter += 1
                variant = None if workload == "cached" else f"{row_id}-{counter}"
                try:
                    status, engine = await http.exchange(reader, writer, http.request(variant))
                except TRANSPORT_ERRORS as exc:
                    if start <= time.perf_counter() <= end:
                        result.error(type(exc).__name__)
                    writer.close()
                    reader, writer = await http.connect()
                    continue
                done = time.perf_counter()
                if start <= done <= end:  # a 503 is resent at once, as wrk does
                    result.record(status, done - sent, engine)
                    if status == 200:
                        result.samples.append((sent - start, done - sent, engine))
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return result


async def run_open_loop(url: str, answer: str, rate: float, concurrency: int, seconds: float,
                        warmup_s: float) -> Result:
    """Distinct answers sent every 1/``rate`` s over at most ``concurrency`` kept-alive
    connections (RawHttp); a request that waits for a free connection counts that wait in
    its latency."""
    result = Result(f"distinct @ {rate:g}/s", concurrency, seconds, client="raw")
    http, row_id = RawHttp(url, answer), time.time_ns()
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(concurrency):
        free.put_nowait(await http.connect())
    start = time.perf_counter() + warmup_s
    end = start + seconds

    async def exchange(n: int) -> tuple[int, float | None]:
        reader, writer = await free.get()
        try:
            reply = await http.exchange(reader, writer,
                                        http.request(f"{row_id}-open{round(rate)}-{n}"))
        except BaseException:
            writer.close()
            free.put_nowait(await http.connect())
            raise
        free.put_nowait((reader, writer))
        return reply

    async def one(n: int, scheduled: float) -> None:
        try:
            status, engine = await exchange(n)
        except TRANSPORT_ERRORS as exc:
            if start <= scheduled <= end:
                result.error(type(exc).__name__)
            return
        if start <= scheduled <= end:
            result.record(status, time.perf_counter() - scheduled, engine)

    tasks = []
    first = time.perf_counter()
    n = 0
    while (scheduled := first + n / rate) < end:
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.ensure_future(one(n, scheduled)))
        n += 1
    await asyncio.gather(*tasks)
    while not free.empty():
        free.get_nowait()[1].close()
    return result


WRK_SCRIPT = HERE / "load.lua"


def run_wrk(url: str, answer: str, workload: str, concurrency: int, seconds: float,
            warmup_s: float) -> Result:
    """The same closed loop driven by wrk: one thread, ``concurrency`` connections."""
    if shutil.which("wrk") is None:
        raise SystemExit("--client wrk needs wrk (Debian: apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".md", encoding="utf-8") as fh:
        fh.write(answer)
        fh.flush()
        env = {**os.environ, "DOCVOUCH_LOAD_ANSWER": fh.name,
               "DOCVOUCH_LOAD_WORKLOAD": workload}

        def wrk(duration: float) -> dict:
            env["DOCVOUCH_LOAD_RUN"] = str(time.time_ns())  # warm-up answers differ too
            done = subprocess.run(
                ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s",
                 "--timeout", "30s", "-s", str(WRK_SCRIPT), url + "/v1/verify"],
                env=env, capture_output=True, text=True, check=True)
            line = next(ln for ln in done.stdout.splitlines() if ln.startswith("DOCVOUCH-LOAD "))
            return json.loads(line.split(" ", 1)[1])

        if warmup_s > 0:
            wrk(warmup_s)
        report = wrk(seconds)
    statuses = {int(k): v for k, v in report["statuses"].items()}
    result = Result(workload, concurrency, report["duration_us"] / 1e6, client="wrk",
                    answered=statuses.get(200, 0), busy=statuses.get(503, 0),
                    fixed_ms={0.5: report["p50_us"] / 1000, 0.99: report["p99_us"] / 1000},
                    engine_ms=report["engine_ms"])
    for status, n in statuses.items():
        if status not in (200, 503):
            result.errors += n
            result.error_kinds[f"HTTP {status}"] = n
    for kind, n in report["errors"].items():
        if n:  # connect, read, write errors and timeouts
            result.errors += n
            result.error_kinds[kind] = n
    return result


def start_server(workers: int, home: str | None, engine: str
                 ) -> tuple[subprocess.Popen[bytes], str]:
    port = benchkit.free_port()
    env = {**os.environ, "DOCVOUCH_LOG_LEVEL": "warning",
           accel.ENV_SWITCH: "1" if engine == "compiled" else "0"}
    if home:
        env["DOCVOUCH_HOME"] = home
    process = subprocess.Popen(
        [sys.executable, "-m", "docvouch", "serve", "--port", str(port),
         "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


async def wait_ready(url: str, deadline_s: float = 300) -> None:
    end = time.monotonic() + deadline_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < end:
            try:
                async with session.get(url + "/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} not ready within {deadline_s} s")


async def served_engine(url: str) -> str:
    """compiled or python, as every worker of the server says (``mixed`` if they differ);
    a server from before workers reported it: its build_info metric."""
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
        text = await response.text()
    workers = set(re.findall(r'docvouch_workers_by_engine\{engine="(\w+)"\}', text))
    if workers:
        return workers.pop() if len(workers) == 1 else "mixed"
    found = re.search(r'docvouch_build_info\{[^}]*engine="(\w+)"', text)
    return found.group(1) if found else "unknown"


async def main_async(args: argparse.Namespace) -> str:
    texts = answers(args.answers)
    results: list[Result] = []
    # Each round runs every configuration once, so the machine's drift over the run
    # spreads across all of them instead of landing on one; both engines run in every
    # round, each on a server of its own.
    for _ in range(args.repeat):
        for engine in ([None] if args.url else args.engine):
            results += await run_round(args, texts, engine)
    return report(args, texts, results)


async def run_round(args: argparse.Namespace, texts: dict[str, str], engine: str | None
                    ) -> list[Result]:
    process = None
    url = args.url
    if url is None:
        process, url = start_server(args.workers, args.home, engine or "compiled")
    results = []
    try:
        await wait_ready(url)
        served = await served_engine(url)
        if engine is not None and served != engine:
            raise SystemExit(f"asked for the {engine} engine, the server runs {served}: "
                             "`docvouch accel status` says why (`make accel` builds it; "
                             "--engine python measures the Python one alone)")
        for name, answer in texts.items():
            for workload in args.workloads:
                for concurrency, client in ((c, k) for c in args.concurrency
                                            for k in args.client):
                    probe = benchkit.host_probe_ms()
                    if client == "wrk":
                        result = await asyncio.to_thread(run_wrk, url, answer, workload,
                                                         concurrency, args.seconds, args.warmup)
                    else:
                        run = run_raw_level if client == "raw" else run_level
                        result = await run(url, answer, workload, concurrency,
                                           args.seconds, args.warmup)
                    result.answer, result.probe_ms = name, (probe, benchkit.host_probe_ms())
                    result.engine = served
                    print(result.row(), result.error_kinds or "", file=sys.stderr, flush=True)
                    results.append(result)
            for rate in args.rate:
                probe = benchkit.host_probe_ms()
                result = await run_open_loop(url, answer, rate, 16, args.seconds, args.warmup)
                result.answer, result.probe_ms = name, (probe, benchkit.host_probe_ms())
                result.engine = served
                print(result.row(), result.error_kinds or "", file=sys.stderr, flush=True)
                results.append(result)
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return results


def report(args: argparse.Namespace, texts: dict[str, str], results: list[Result]) -> str:
    described = "; ".join(
        f"`{name}` {len(text.split())} words, {claim_count(text)} claims ({len(text):,} "
        "characters" + (", whole labelled answers" if name == "labelled" else
                        ", bench/answers/answer_400w_15claims.md") + ")"
        for name, text in texts.items())
    verdicts = targets(results)
    command = "python bench/load.py " + " ".join(_public_args(sys.argv[1:]))
    lines = [
        SECTION, "",
        f"Command: `{command.strip()}` on {datetime.now(UTC):%Y-%m-%d} "
        f"({benchkit.machine()}); the load generator runs on the same 2 cores as the service.",
        f"Server: `python -m docvouch serve --workers {args.workers}` on loopback, default "
        f"settings (queue_max 64, deadline 10 s). Answers: {described}; closed-loop "
        f"clients, {args.warmup:g} s warm-up then {args.seconds:g} s measured per row.",
        "", HEADER, *(r.row() for r in results), "", *repeat_summary(results),
        *engine_ratios(results), *speed_split(results),
        "`engine`: `compiled`, the engine's modules built by mypyc (`docvouch accel build`, "
        "which `make serve` runs); `python`, the same source interpreted: the reference. "
        "Every round starts one server per engine and runs all its rows on it. "
        "`distinct`: a different answer every request (always computed by a worker; the "
        "answers differ in their first line, so a worker's caches of parsed code snippets "
        "and decoded passages are warm, as for an answer re-checked while it streams in: "
        "issue 2's cold figures are the engine's cost without them). "
        "`cached`: the same answer repeated (served by the result cache). "
        "Clients: `wrk`; `raw`, plain HTTP/1.1 on asyncio streams with the bodies "
        "pre-encoded (it costs the shared cores more than wrk, so its closed-loop rows run "
        "a little slower); `python`, aiohttp's client. "
        "`distinct @ N/s`: open loop, N requests a second over at most 16 connections, "
        "latency from the scheduled send time. 503s (queue full) are not errors; the Python "
        "client then waits Retry-After, wrk and the raw client resend at once. Errors are "
        "any other non-200 status or transport failure. `engine p50 ms`: the worker's own "
        "time per answer (Server-Timing, read by every client), so latency minus it is "
        "queueing plus the service's overhead; it is also the best gauge of how fast this "
        "machine ran during the row (the same answer takes the engine from about 7 to 12 "
        "ms from one minute to the next, in the benchmark's process as well as in a "
        "worker). `host probe ms`: a fixed pure-Python workload timed before and after the "
        "row (`benchkit.host_probe_ms`); a higher probe means a slower machine, but its "
        "small working set can miss a slowdown the memory-heavy engine feels (a probe of "
        "6.3 / 6.5 ms was seen while the workers took 11.5 ms an answer).",
        "", *verdicts, "",
    ]
    return "\n".join(lines)


def _public_args(args: list[str]) -> list[str]:
    """The command line as the results file shows it: local paths and URLs left out."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--home", "--url", "--write"):
            skip = True
        elif not arg.startswith(("--home=", "--url=", "--write=")):
            out.append(arg)
    return out


Configuration = tuple[str, str, str, str, int]  # answer, engine, workload, client, concurrency


def configurations(results: list[Result]) -> dict[Configuration, list[Result]]:
    """Rows grouped by what they measured, in the order first run: ``--repeat`` runs each
    configuration several times."""
    groups: dict[Configuration, list[Result]] = {}
    for r in results:
        key = (r.answer, r.engine, r.workload, r.client, r.concurrency)
        groups.setdefault(key, []).append(r)
    return groups


def _spread(values: list[float], fmt: str) -> str:
    """The median, and the range when there is more than one value."""
    middle = format(statistics.median(values), fmt)
    if len(values) == 1:
        return middle
    return f"{middle} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def repeat_summary(results: list[Result]) -> list[str]:
    """Medians and ranges of repeated configurations (nothing when each ran once)."""
    groups = configurations(results)
    if all(len(rows) == 1 for rows in groups.values()):
        return []
    out = ["Repeated rows, median (range) per configuration: this machine's speed drifts "
           "between rows, so one row alone can land anywhere in the range.", "",
           "| answer | engine | workload | client | concurrency | rows | answers/s | p50 ms "
           "| p99 ms | errors |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (answer, engine, workload, client, concurrency), rows in groups.items():
        out.append(
            f"| {answer} | {engine} | {workload} | {client} | {concurrency} | {len(rows)} "
            f"| {_spread([r.rate for r in rows], ',.1f')} "
            f"| {_spread([r.percentile_ms(0.5) for r in rows], '.1f')} "
            f"| {_spread([r.percentile_ms(0.99) for r in rows], '.1f')} "
            f"| {sum(r.errors for r in rows):,} |")
    return [*out, ""]


def _ratio(compiled: list[Result], python: list[Result], read: Callable[[Result], float]
           ) -> float:
    return (statistics.median(map(read, compiled)) / statistics.median(map(read, python)))


def _engine_p50(r: Result) -> float:
    return statistics.median(r.engine_ms)


def engine_ratios(results: list[Result]) -> list[str]:
    """Compiled against python for every configuration run on both: ratios of the medians,
    from the same run (the machine's drift lands on both, round by round)."""
    groups = configurations(results)
    out = []
    for (answer, engine, workload, client, concurrency), compiled in groups.items():
        python = groups.get((answer, "python", workload, client, concurrency))
        if engine != "compiled" or not python or not all(r.rate for r in python):
            continue
        parts = [f"answers/s × {_ratio(compiled, python, lambda r: r.rate):.2f}",
                 f"p99 × {_ratio(compiled, python, lambda r: r.percentile_ms(0.99)):.2f}"]
        if all(r.engine_ms for r in compiled + python):
            parts.append(f"engine time per answer × {_ratio(compiled, python, _engine_p50):.2f}"
                         f" ({statistics.median(map(_engine_p50, compiled)):.1f} against "
                         f"{statistics.median(map(_engine_p50, python)):.1f} ms)")
        out.append(f"- `{answer}` {workload}, {client}, concurrency {concurrency}: "
                   + ", ".join(parts))
    if not out:
        return []
    return ["Compiled engine against the Python reference, same run (ratios of the medians "
            "per configuration):", "", *out, ""]


def speed_split(results: list[Result]) -> list[str]:
    """For the raw closed-loop rows at concurrency 16: the same row's fast and slow seconds
    side by side.

    Every second of the row is ranked by the mean engine time of the answers sent in it;
    the faster half and the slower half are then reported apart. The code and the load are
    the same in both halves: only the machine's speed differs.
    """
    lines = []
    for r in (r for r in results if r.concurrency == 16):  # the row issue 3 sets a target on
        seconds: dict[int, list[tuple[float, float | None]]] = {}
        for sent, latency, engine in r.samples:
            seconds.setdefault(int(sent), []).append((latency, engine))
        timed = {s: [e for _, e in v if e is not None] for s, v in seconds.items()}
        ranked = sorted((statistics.fmean(t), s) for s, t in timed.items() if t)
        if len(ranked) < 4:
            continue
        halves = ranked[:len(ranked) // 2], ranked[len(ranked) // 2:]
        parts = []
        for label, half in zip(("faster", "slower"), halves, strict=True):
            latencies = sorted(lat for _, s in half for lat, _ in seconds[s])
            p99 = percentile(latencies, 0.99) * 1000
            engine = statistics.fmean(e for _, s in half for e in timed[s])
            parts.append(f"{label} half: engine {engine:.1f} ms an answer, "
                         f"{len(latencies) / len(half):,.0f} answers/s, p99 {p99:.1f} ms")
        lines.append(f"- `{r.answer}` {r.engine} {r.workload} at concurrency {r.concurrency} "
                     f"({len(ranked)} seconds): {parts[0]}; {parts[1]}.")
    if not lines:
        return []
    return ["Same row, fast and slow seconds (raw client): each second ranked by the "
            "engine's mean time per answer in it, then the faster and slower halves "
            "reported apart. Same code, same load; only the machine's speed differs.", "",
            *lines, ""]


def _verdict(rows: list[Result], met: Callable[[Result], bool]) -> str:
    """"met" / "NOT met" for one row; for repeated rows, in how many of them it was met."""
    hits = sum(map(met, rows))
    if len(rows) == 1:
        return "met" if hits else "NOT met"
    return f"met in {hits} of {len(rows)} rows"


def _engine_speeds(rows: list[Result], met: Callable[[Result], bool]) -> str:
    """The engine's median time per answer in the rows that met a target and in those that
    did not: the machine's speed during each row, read from the answers themselves."""
    def medians(group: list[Result]) -> str:
        values = [statistics.median(r.engine_ms) for r in group if r.engine_ms]
        return _spread(values, ".1f") + " ms" if values else "–"

    if not any(r.engine_ms for r in rows):
        return ""
    hit, miss = [r for r in rows if met(r)], [r for r in rows if not met(r)]
    if not hit or not miss:
        return f"; engine p50 {medians(rows)}"
    return f"; engine p50 {medians(hit)} where met, {medians(miss)} where not"


def _closed_loop_met(r: Result) -> bool:
    """Issue 3's target for a concurrency-16 row."""
    return r.rate >= 100 and r.percentile_ms(0.99) <= 100


def _open_loop_rate(workload: str) -> float | None:
    """N of an open-loop row's workload ``distinct @ N/s``; None for a closed-loop row."""
    found = re.fullmatch(r"distinct @ ([0-9.]+)/s", workload)
    return float(found.group(1)) if found else None


def targets(results: list[Result]) -> list[str]:
    """Issue 3's targets, checked against this run's rows (each row on its own)."""
    out = ["Targets (issue 3), checked by the script:", ""]
    for (answer, engine, workload, client, concurrency), rows in configurations(results).items():
        rates = _spread([r.rate for r in rows], ",.1f")
        p99 = _spread([r.percentile_ms(0.99) for r in rows], ".1f")
        rate = _open_loop_rate(workload)
        if concurrency == 16 and rate is None:
            out.append(f"- ≥ 100 answers/s with p99 ≤ 100 ms at concurrency 16, {workload} "
                       f"({answer}, {engine}, {client}): {_verdict(rows, _closed_loop_met)} "
                       f"({rates}/s, "
                       f"p99 {p99} ms{_engine_speeds(rows, _closed_loop_met)})")
        if rate is not None and rate >= 100:
            # Closed-loop clients keep 16 requests in flight whatever the rate, so there the
            # mean latency is 16 / throughput (Little's law): a mean under 100 ms needs 160
            # answers/s, and a p99 under it more. The pair of figures read together: N
            # answers/s sent over 16 connections, and the p99 they get.
            def held(r: Result, rate: float = rate) -> bool:
                return r.rate >= 0.99 * rate and r.percentile_ms(0.99) <= 100
            out.append(f"- open loop, {rate:g} answers/s over at most 16 connections "
                       f"({answer}, {engine}), p99 ≤ 100 ms: {_verdict(rows, held)} ({rates}/s, "
                       f"p99 {p99} ms)")
        if concurrency == 256:
            errors, busy = sum(r.errors for r in rows), sum(r.busy for r in rows)
            out.append(f"- zero errors at concurrency 256, {workload} ({answer}, {engine}, "
                       f"{client}): "
                       f"{_verdict(rows, lambda r: r.errors == 0)} ({errors} errors, "
                       f"{busy} × 503 counted apart)")
    if any((_open_loop_rate(r.workload) or 0) >= 100 for r in results):
        out += ["", "Closed-loop clients keep 16 requests in flight whatever the rate, so at "
                "concurrency 16 the mean latency is 16 / throughput (Little's law): a mean "
                "under 100 ms needs 160 answers/s, and a p99 under 100 ms more, as the tail "
                "lies above the mean. The open-loop rows hold the rate at "
                "N answers/s over at most 16 connections and measure the p99 it gets."]
    for (answer, engine_label, workload, client, concurrency), rows in (
            configurations(results).items()):
        engine_ms = [ms for r in rows for ms in r.engine_ms]
        if workload != "distinct" or concurrency != 1 or not engine_ms:
            continue
        engine = statistics.median(engine_ms)
        overhead = statistics.median(r.percentile_ms(0.5) for r in rows) - engine
        out += ["", f"At concurrency 1 ({engine_label}, {client}) the engine takes "
                f"{engine:.1f} ms per distinct "
                f"`{answer}` answer and the service adds about {overhead:.1f} ms (HTTP, "
                f"validation, cache look-up, the worker round trip); with 2 workers on 2 "
                f"cores, such answers cannot exceed about {2000 / engine:.0f}/s on this "
                "machine."]
    return out


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="benchmark a running service instead of starting one")
    parser.add_argument("--home", help="DOCVOUCH_HOME for the started service")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--answers", nargs="+", choices=("typical", "labelled"),
                        default=["typical", "labelled"],
                        help="typical: 400 words, ~15 claims (issue 2's answer); labelled: "
                             "400 words of labelled answers, ~30 claims")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 256])
    parser.add_argument("--workloads", nargs="+", choices=("distinct", "cached"),
                        default=["distinct", "cached"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--client", nargs="+", choices=("python", "wrk", "raw"),
                        default=["python"],
                        help="closed-loop load generators, each a row of its own: python "
                             "(aiohttp), wrk, or raw (plain HTTP/1.1 as cheap as wrk, which "
                             "also times each second: see the speed split)")
    parser.add_argument("--rate", type=float, nargs="*", default=[],
                        help="also send distinct answers open-loop at these rates (per s), "
                             "at most 16 in flight")
    parser.add_argument("--repeat", type=_at_least_one, default=1,
                        help="run every row this many times (in rounds) and add a table of "
                             "medians and ranges; the targets say in how many rows they held")
    parser.add_argument("--engine", nargs="+", choices=("compiled", "python"),
                        default=["compiled", "python"],
                        help="run every row on a server with the mypyc-compiled engine, the "
                             "plain Python one, or both (the default: python is the "
                             "reference); compiled needs `docvouch accel build` first")
    parser.add_argument("--write", type=Path, help="update this RESULTS.md section")
    args = parser.parse_args()
    section = asyncio.run(main_async(args))
    print(section)
    if args.write:
        benchkit.write_section(args.write, SECTION, section)


if __name__ == "__main__":
    main()
