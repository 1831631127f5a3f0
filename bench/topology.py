"""Answers/s through nginx with 1 and 2 replicas, and what a replica costs in memory.

Each row starts its own topology on loopback with deploy/load/loopback.py (the harness the
deployment tests use): ``docvouch serve`` replicas on one shared index, Debian's nginx in
front with the rendered deploy/nginx/docvouch.conf (or no nginx, for the reference row).
Closed-loop clients post ``/v1/verify`` with an API key for ``--seconds`` after a warm-up,
as bench/load.py does, with the same 400-word answer:

* ``distinct``: a different answer every request, always computed by a worker;
* ``cached``: the same answer repeated, served from each replica's result cache.

Memory is the proportional set size (PSS) summed over each replica's processes (server,
forkserver, workers): shared pages of the memory-mapped index are counted once in all.
``--sizing`` adds rows on a 100,000-passage corpus (the default corpus scaled the way
bench/latency.py scales it) for the per-100k sizing in deploy/README.md.

    python bench/topology.py --write bench/RESULTS.md
    python bench/topology.py --sizing --write bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson

import benchkit  # bench/ is the script directory, first on sys.path
from docvouch.auth import hash_key
from docvouch.store import ensure_default_index, publish, resolve_home

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SECTION = "## Deploy (issue 6)"
KEY = "dv_bench-topology-key"


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


loopback = _load("docvouch_deploy_loopback", REPO / "deploy" / "load" / "loopback.py")
load_bench = _load("docvouch_bench_load", HERE / "load.py")


@dataclass
class Row:
    setup: str
    workload: str
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    busy: int = 0
    errors: int = 0
    retried: int = 0
    shares: dict[str, int] = field(default_factory=dict)
    pss_mib: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # 1-min load average after each run
    engine_ms: list[float] = field(default_factory=list)  # Server-Timing, cache misses
    rates: list[float] = field(default_factory=list)  # one per repetition, once merged

    @property
    def rate(self) -> float:
        """Answers/s: the median over repetitions (this run's own rate before merging)."""
        return statistics.median(self.rates) if self.rates else len(self.latencies) / self.seconds

    def merge(self, other: Row) -> None:
        """Fold another repetition of the same row into this one."""
        if not self.rates:
            self.rates = [len(self.latencies) / self.seconds]
        self.rates.append(len(other.latencies) / other.seconds)
        self.latencies += other.latencies
        self.busy += other.busy
        self.errors += other.errors
        self.retried += other.retried
        for addr, n in other.shares.items():
            self.shares[addr] = self.shares.get(addr, 0) + n
        self.pss_mib = [max(a, b) for a, b in zip(self.pss_mib, other.pss_mib, strict=True)]
        self.load += other.load
        self.engine_ms += other.engine_ms

    def pct_ms(self, q: float) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(len(lat) * q))] * 1000 if lat else float("nan")

    def line(self) -> str:
        share = " / ".join(f"{100 * n / max(1, sum(self.shares.values())):.0f}%"
                           for _addr, n in sorted(self.shares.items())) or "–"
        memory = " + ".join(f"{m:.0f}" for m in self.pss_mib) or "–"
        runs = ", ".join(f"{r:,.1f}" for r in self.rates) or f"{self.rate:,.1f}"
        engine = f"{statistics.median(self.engine_ms):.1f}" if self.engine_ms else "–"
        return (f"| {self.setup} | {self.workload} | {self.concurrency} | {self.rate:,.1f} | "
                f"{runs} | {engine} | "
                f"{self.pct_ms(0.5):.1f} | {self.pct_ms(0.99):.1f} | {len(self.latencies):,} | "
                f"{self.busy} | {self.errors} | {self.retried} | {share} | {memory} |")


HEADER = ("| setup | workload | concurrency | answers/s (median) | answers/s per run "
          "| engine p50 ms | p50 ms | p99 ms | 200s | 503s | errors | retried by nginx "
          "| share per replica | PSS MiB per replica |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def pss_mib(pid: int) -> float:
    """PSS of ``pid`` and every process below it, in MiB."""
    total_kib = 0
    for member in {pid} | benchkit.descendants(pid):
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024




async def run_row(url: str, answer: str, row: Row, warmup_s: float, tag: str) -> None:
    """Closed-loop clients; only responses completed inside the measured window count."""
    counter = 0
    start = time.perf_counter() + warmup_s
    end = start + row.seconds
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal counter
        while (sent := time.perf_counter()) < end:
            counter += 1
            text = answer if row.workload == "cached" else f"Variant {tag}{counter}.\n\n{answer}"
            body = orjson.dumps({"text": text, "source": {"site": "bench"}})
            try:
                async with session.post(url + "/v1/verify", data=body, headers={
                        **headers, "X-Request-ID": f"{tag}-{counter}"}) as response:
                    await response.read()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    timing = response.headers.get("Server-Timing", "")
                    miss = response.headers.get("X-DocVouch-Cache") == "miss"
            except (aiohttp.ClientError, TimeoutError):
                if start <= time.perf_counter() <= end:
                    row.errors += 1
                continue
            done = time.perf_counter()
            if start <= done <= end:
                if status == 200:
                    row.latencies.append(done - sent)
                    engine = load_bench.ENGINE_RE.search(timing)
                    if engine and miss:
                        row.engine_ms.append(float(engine.group(1)))
                elif status == 503:
                    row.busy += 1
                else:
                    row.errors += 1
            if status == 503:
                await asyncio.sleep(min(float(retry_after or 1), max(0.0, end - done)))

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(client(session) for _ in range(row.concurrency)))


async def measure(home: Path, workdir: Path, setup: str, replicas: int, workers: int,
                  proxy: bool, args: argparse.Namespace, answer: str,
                  corpus: str | None = None) -> list[Row]:
    settings: dict[str, Any] = {"workers": workers, "api_keys": hash_key(KEY),
                                "log_level": "warning"}
    if corpus:
        settings["default_corpus"] = corpus
    workdir.mkdir(parents=True, exist_ok=True)
    members = [loopback.Replica(f"r{n}", loopback.free_port(), home, workdir, settings)
               for n in range(replicas)]
    nginx = None
    rows: list[Row] = []
    try:
        for member in members:
            member.start()
        await asyncio.gather(*(loopback.wait_ready(m.base, 300, alive=m.running)
                               for m in members))
        url = members[0].base
        if proxy:
            nginx = loopback.Nginx(workdir / "nginx", [m.address for m in members])
            nginx.start()
            url = nginx.base
        for workload in args.workloads:
            for concurrency in args.concurrency:
                row = Row(setup, workload, concurrency, args.seconds)
                tag = f"{len(rows)}{workload[0]}{concurrency}"
                await run_row(url, answer, row, args.warmup, tag)
                if nginx is not None:
                    await asyncio.sleep(0.3)
                    mine = [line for line in nginx.log()
                            if line["request_id"].startswith(tag + "-")]
                    row.retried = sum(", " in line["upstream_addr"] for line in mine)
                    names = {m.address: m.name for m in members}
                    for line in mine:
                        if line["status"] == 200:
                            name = names.get(line["upstream_addr"].split(", ")[-1], "?")
                            row.shares[name] = row.shares.get(name, 0) + 1
                row.pss_mib = [pss_mib(m.pid) for m in members]
                row.load.append(os.getloadavg()[0])
                print(row.line(), file=sys.stderr, flush=True)
                rows.append(row)
    finally:
        if nginx is not None:
            nginx.stop()
        for member in members:
            member.stop()
    return rows


SETUPS = [  # label, replicas, workers per replica, through nginx
    ("direct: 1 replica × 2 workers (no proxy)", 1, 2, False),
    ("nginx → 1 replica × 2 workers", 1, 2, True),
    ("nginx → 2 replicas × 1 worker", 2, 1, True),
    ("nginx → 2 replicas × 2 workers", 2, 2, True),
]


def scaled_home(base_home: Path, target: Path, size: int) -> tuple[Path, str]:
    """A home whose only corpus is the default corpus scaled to ``size`` passages."""
    from docvouch.engine import Engine
    from docvouch.index import build_index

    latency = _load("docvouch_bench_latency", HERE / "latency.py")
    engine = Engine.open(ensure_default_index(base_home))
    base = [engine.index.passage(i) for i in range(engine.index.size)]
    passages = latency.scaled_corpus(base, size)
    symbols = [s for s in engine.index.symbols if s.passage < size]
    name = f"scaled{size // 1000}k"
    publish(target, name, lambda tmp: build_index(
        tmp, passages, symbols, corpus={"name": name, "version": "bench"}))
    return target, name


async def main_async(args: argparse.Namespace) -> str:
    answer = load_bench.build_answer()
    home = resolve_home(args.home) if args.home else None
    rows: list[Row] = []
    sizing: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="docvouch-topology-") as scratch:
        if home is None:
            home = Path(scratch) / "home"
        ensure_default_index(home)
        passages = _passages(home)
        big = corpus = None
        if args.sizing or args.only_sizing:
            big, corpus = scaled_home(home, Path(scratch) / "home100k", 100_000)
        for rep in range(args.repeat):
            # Alternate the order, so that a slow spell of the machine does not always fall
            # on the same setup.
            order = list(enumerate(SETUPS))
            if rep % 2:
                order.reverse()
            if not args.only_sizing:
                for n, (label, replicas, workers, proxy) in order:
                    rows = merge(rows, await measure(
                        home, Path(scratch) / f"run{rep}-{n}", label, replicas, workers,
                        proxy, args, answer))
            if big is not None:
                for workers in (1, 2):
                    sizing = merge(sizing, await measure(
                        big, Path(scratch) / f"sizing{rep}-{workers}",
                        f"nginx → 1 replica × {workers} worker{'s' * (workers > 1)}, "
                        f"100k passages", 1, workers, True, args, answer, corpus=corpus))
    return report(args, answer, passages, rows, sizing)


def merge(rows: list[Row], new: list[Row]) -> list[Row]:
    """``rows`` with ``new`` folded in: one row per (setup, workload, concurrency)."""
    index = {(r.setup, r.workload, r.concurrency): r for r in rows}
    for row in new:
        key = (row.setup, row.workload, row.concurrency)
        if key in index:
            index[key].merge(row)
        else:
            rows.append(row)
            index[key] = row
    return rows


def _passages(home: Path) -> int:
    from docvouch.index import read_manifest
    from docvouch.store import DEFAULT_CORPUS, current_index

    return int(read_manifest(current_index(home, DEFAULT_CORPUS))["counts"]["passages"])


def report(args: argparse.Namespace, answer: str, passages: int, rows: list[Row],
           sizing: list[Row]) -> str:
    command = "python bench/topology.py " + " ".join(sys.argv[1:])
    lines = [
        SECTION, "",
        f"Command: `{command.strip()}` on {datetime.now(UTC):%Y-%m-%d} "
        f"({load_bench.machine()}). The load generator, nginx and every replica share the "
        "same 2 cores, and other work was running on the machine: compare rows of one run "
        "with each other, not with other machines.",
        f"Topology: deploy/load/loopback.py on 127.0.0.1: `docvouch serve` replicas (API "
        f"keys on, default settings otherwise) on one shared index, Debian's nginx 1.22 "
        f"(1 worker process) with the rendered deploy/nginx/docvouch.conf. Answer: "
        f"{len(answer.split())} words ({len(answer):,} characters), as in issue 3; "
        f"closed-loop clients, {args.warmup:g} s warm-up then {args.seconds:g} s measured "
        f"per row, each setup started afresh {args.repeat} time(s) in alternating order.",
        "",
    ]
    if rows:
        lines += [f"Default corpus ({passages:,} passages):", "", HEADER,
                  *(r.line() for r in rows), ""]
    if sizing:
        lines += ["Sizing: one replica on a 100,000-passage corpus (the default corpus "
                  "scaled as in bench/latency.py):", "", HEADER, *(r.line() for r in sizing), ""]
    lines += [
        "`distinct`: every request a different answer (computed by a worker). `cached`: the "
        "same answer repeated (each replica's result cache). `engine p50 ms`: a worker's own "
        "time per distinct answer (Server-Timing), so 1000 / it is what one worker on one "
        "free core can do per second. `retried by nginx`: requests "
        "nginx sent to a second replica (none expected without failures). `share per "
        "replica`: the 200s each replica gave, from nginx's log. PSS: proportional set size "
        "summed over a replica's processes after its rows (the mapped index counted once).",
        "", *findings(rows, sizing), "",
    ]
    return "\n".join(lines)


def findings(rows: list[Row], sizing: list[Row]) -> list[str]:
    """Plain statements computed from this run's rows (no figure is typed by hand)."""
    out: list[str] = []
    loads = [x for r in rows + sizing for x in r.load]
    if loads:
        out.append(f"- Machine load (1-minute load average after each row): "
                   f"{min(loads):.1f} to {max(loads):.1f} on 2 cores. This run's own "
                   f"processes account for about 2 when the workers are saturated; more "
                   f"means other work took CPU from the rows.")

    def rate(setup_prefix: str, workload: str) -> float | None:
        found = [r.rate for r in rows
                 if r.setup.startswith(setup_prefix) and r.workload == workload]
        return statistics.fmean(found) if found else None

    for workload in ("distinct", "cached"):
        direct = rate("direct", workload)
        one = rate("nginx → 1 replica", workload)
        two = rate("nginx → 2 replicas × 1", workload)
        if direct and one:
            line = (f"- {workload}: {one:,.1f} answers/s through nginx to 1 replica vs "
                    f"{direct:,.1f}/s direct ({100 * (one / direct - 1):+.0f}%)")
            if two:
                line += f"; 2 replicas × 1 worker behind nginx: {two:,.1f}/s"
            out.append(line + ".")
    for r in sizing:
        if r.workload == "distinct":
            workers = 2 if "× 2" in r.setup else 1
            engine = statistics.median(r.engine_ms) if r.engine_ms else float("nan")
            out.append(f"- 100k passages, {workers} worker(s): {r.rate:,.1f} distinct "
                       f"answers/s (median; runs {', '.join(f'{x:,.1f}' for x in r.rates)}), "
                       f"engine p50 {engine:.1f} ms per answer (at most {1000 / engine:,.1f} "
                       f"answers/s per worker core), replica PSS {r.pss_mib[0]:,.0f} MiB.")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="DOCVOUCH_HOME with the default corpus (else built)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16])
    parser.add_argument("--workloads", nargs="+", choices=("distinct", "cached"),
                        default=["distinct", "cached"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every setup this many times (order alternating); the "
                             "table gives the median and each run")
    parser.add_argument("--sizing", action="store_true", help="add the 100k-passage rows")
    parser.add_argument("--only-sizing", action="store_true")
    parser.add_argument("--write", type=Path, help="update this RESULTS.md section")
    args = parser.parse_args()
    text = asyncio.run(main_async(args))
    print(text)
    if args.write:
        benchkit.write_section(args.write, SECTION, text)


if __name__ == "__main__":
    main()
