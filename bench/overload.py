"""Overload with real load tools: RELIABILITY L1 (wrk, 1,000 connections) and L2 (locust).

For each case a fresh ``python -m docvouch serve --workers 2`` (default corpus, default
settings, JSON access log at info level, as deployed) starts on a free loopback port, then:

* **L1**: ``wrk -t4 -c1000 -d60s --latency --timeout 15s -s deploy/load/verify.lua URL``:
  closed-loop connections posting distinct answers of about 2 KB with no pause, a 503
  followed at once by the next request (wrk does not honour Retry-After);
* **L2**: ``locust -f deploy/load/locustfile.py --headless -u 200 -r 20 -t 5m --csv=...``:
  users posting 2 KB / 20 KB / 100 KB answers (70/25/5%), thinking 0.5-1.5 s between
  requests and waiting Retry-After after a 503.

While a case runs, this script probes ``GET /healthz`` every 0.25 s (a new connection each
time, as a liveness probe does) and samples the RSS and PSS summed over the server's
processes (server, forkserver, workers) every second. It reads the CPU time of the server,
its workers and the load tool, and the machine's, so the share other work took is stated.
Afterwards it parses the tools' own output (wrk's ``--latency`` text and the ``done()``
summary of verify.lua; locust's ``--csv`` stats and failures files), the server's access
log (server-side time per status) and ``/metrics`` (cache, rejections, worker restarts).

How responses are counted: ``200`` is an answer. ``503`` with ``Retry-After`` is the
service's documented back-pressure (its queue is full): counted apart, **not an error**.
An error is anything else: another status, a 503 without Retry-After, a socket error or
timeout in wrk, a failure in locust. L2's gate (RELIABILITY): error rate (errors / all
requests, 503s included) < 0.1% and p99 < request_deadline_s (10 s).

    python bench/overload.py --home DIR                     # L1 60 s, L2 5 min (~8 min)
    python bench/overload.py --home DIR --duration 20s      # both cases 20 s
    python bench/overload.py --home DIR --write bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchkit  # bench/ is the script directory, first on sys.path

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "deploy" / "load" / "verify.lua"
LOCUSTFILE = ROOT / "deploy" / "load" / "locustfile.py"
SECTION = "## Overload with wrk and locust (issue 7: RELIABILITY L1, L2)"
DEADLINE_S = 10.0  # the service's default request_deadline_s
SIZES = ("2KB", "20KB", "100KB")
WRK_MARK = "DOCVOUCH-WRK "


# ---------------------------------------------------------------------------- parsing

UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(text: str) -> float:
    """``250us``, ``1.5ms``, ``2s``, ``5m``, ``1h`` (and a bare number of seconds)."""
    found = re.fullmatch(r"\s*([0-9.]+)\s*(us|ms|s|m|h)?\s*", text)
    if not found:
        raise ValueError(f"not a duration: {text!r}")
    return float(found.group(1)) * UNITS_S[found.group(2) or "s"]


def parse_wrk(output: str) -> dict[str, Any]:
    """wrk's ``--latency`` text and verify.lua's ``DOCVOUCH-WRK`` JSON line, merged.

    Keys: ``summary`` (the JSON line: statuses, 503s with/without Retry-After, wrk's error
    counters, latency in microseconds) and from the text ``latency_ms`` (50/75/90/99%),
    ``requests``, ``seconds``, ``rate``, ``non_2xx``, ``socket_errors``.
    """
    # wrk prints the last two lines only when they are not zero
    out: dict[str, Any] = {"latency_ms": {}, "non_2xx": 0,
                           "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}}
    for line in output.splitlines():
        if line.startswith(WRK_MARK):
            out["summary"] = json.loads(line[len(WRK_MARK):])
        elif found := re.fullmatch(r"\s*(50|75|90|99)%\s+([0-9.]+\w+)\s*", line):
            out["latency_ms"][int(found.group(1))] = seconds(found.group(2)) * 1000
        elif found := re.match(r"\s*(\d+) requests in ([0-9.]+\w+),", line):
            out["requests"] = int(found.group(1))
            out["seconds"] = seconds(found.group(2))
        elif found := re.match(r"Requests/sec:\s*([0-9.]+)", line):
            out["rate"] = float(found.group(1))
        elif found := re.match(r"\s*Non-2xx or 3xx responses:\s*(\d+)", line):
            out["non_2xx"] = int(found.group(1))
        elif line.strip().startswith("Socket errors:"):
            out["socket_errors"] = {k: int(v) for k, v in
                                    re.findall(r"(connect|read|write|timeout) (\d+)", line)}
    return out


def wrk_figures(parsed: dict[str, Any]) -> dict[str, Any]:
    """Answers, back-pressure and errors of a wrk run, as this project counts them."""
    summary = parsed["summary"]
    statuses = {int(k): v for k, v in summary["statuses"].items()}
    wall = summary["duration_us"] / 1e6
    answers = statuses.get(200, 0)
    backpressure = summary["retry_after_503"]
    other = sum(n for code, n in statuses.items() if code not in (200, 503))
    socket_errors = sum(summary["errors"][k] for k in ("connect", "read", "write", "timeout"))
    errors = other + summary["bare_503"] + socket_errors
    responses = sum(statuses.values())
    lat = summary["latency_us"]
    return {
        "wall_s": wall, "responses": responses, "answers": answers,
        "answers_per_s": answers / wall if wall else 0.0, "backpressure": backpressure,
        "errors": errors, "socket_errors": summary["errors"], "statuses": statuses,
        "error_rate": errors / max(1, responses + socket_errors),
        "p50_ms": lat["p50"] / 1000, "p99_ms": lat["p99"] / 1000, "max_ms": lat["max"] / 1000,
        "mean_body_bytes": summary["mean_body_bytes"],
        "requests_per_s": responses / wall if wall else 0.0,
    }


def parse_locust(prefix: Path) -> dict[str, Any]:
    """``PREFIX_stats.csv`` and ``PREFIX_failures.csv`` as rows (name → figures) and a list
    of failures (name, error, occurrences)."""
    rows: dict[str, dict[str, Any]] = {}
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name = row["Name"]
            rows[name] = {
                "count": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "median_ms": float(row["Median Response Time"]),
                "mean_ms": float(row["Average Response Time"]),
                "max_ms": float(row["Max Response Time"]),
                "p50_ms": _num(row["50%"]), "p99_ms": _num(row["99%"]),
                "p999_ms": _num(row["99.9%"]), "rate": float(row["Requests/s"]),
                "mean_bytes": float(row["Average Content Size"]),
            }
    failures = []
    with open(f"{prefix}_failures.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            failures.append({"name": row["Name"], "error": row["Error"],
                             "occurrences": int(row["Occurrences"])})
    return {"rows": rows, "failures": failures}


def _num(value: str) -> float:
    return float(value) if value not in ("", "N/A") else float("nan")


def locust_figures(parsed: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """Per size class and in all: answers (200), 503s (own rows), failures, latencies."""
    rows = parsed["rows"]
    classes = {}
    for size in SIZES:
        ok = rows.get(f"verify {size}", {})
        busy = rows.get(f"verify {size} 503", {})
        answers = ok.get("count", 0) - ok.get("failures", 0)
        classes[size] = {
            "answers": answers, "answers_per_s": answers / wall_s,
            "failures": ok.get("failures", 0), "backpressure": busy.get("count", 0),
            "p50_ms": ok.get("p50_ms", float("nan")), "p99_ms": ok.get("p99_ms", float("nan")),
            "max_ms": ok.get("max_ms", float("nan")),
            "busy_p50_ms": busy.get("p50_ms", float("nan")),
            "busy_p99_ms": busy.get("p99_ms", float("nan")),
        }
    total = rows.get("Aggregated", {})
    requests = total.get("count", 0)
    errors = total.get("failures", 0)
    return {
        "wall_s": wall_s, "requests": requests, "errors": errors,
        "error_rate": errors / requests if requests else float("nan"),
        "answers": sum(c["answers"] for c in classes.values()),
        "backpressure": sum(c["backpressure"] for c in classes.values()),
        "p50_ms": total.get("p50_ms", float("nan")), "p99_ms": total.get("p99_ms", float("nan")),
        "max_ms": total.get("max_ms", float("nan")),
        "classes": classes, "failures": parsed["failures"],
    }


def parse_access_log(path: Path) -> dict[int, list[float]]:
    """Server-side duration (ms) of every POST /v1/verify, by status."""
    by_status: dict[int, list[float]] = {}
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if '"route":"/v1/verify"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == "request":
                by_status.setdefault(int(record["status"]), []).append(
                    float(record["duration_ms"]))
    return by_status


def parse_metrics(text: str) -> dict[str, float]:
    """The samples of the counters this report quotes, ``name{labels}`` → value."""
    wanted = ("docvouch_cache_requests_total", "docvouch_rejected_total",
              "docvouch_worker_restarts_total", "docvouch_cache_bytes ",
              "docvouch_cache_entries ")
    out = {}
    for line in text.splitlines():
        if line.startswith(wanted):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


# ---------------------------------------------------------------------------- processes





def memory_mib(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MiB summed over ``pid`` and every process below it."""
    rss = pss = 0
    for member in {pid} | benchkit.descendants(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return rss / 1024, pss / 1024


def pss_by_process(pid: int) -> list[tuple[str, float]]:
    """PSS in MiB of the server process and of each process below it, largest first."""
    out = []
    for member in sorted({pid} | benchkit.descendants(pid)):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    role = "server" if member == pid else "child"
                    out.append((role, int(line.split()[1]) / 1024))
    return sorted(out, key=lambda item: (item[0] != "server", -item[1]))


CLOCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pids: set[int]) -> float:
    """User + system CPU seconds of these processes (those still alive)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK


class Server:
    """One ``python -m docvouch serve`` on a free loopback port, access log to a file."""

    def __init__(self, workers: int, home: str | None, folder: Path, name: str) -> None:
        self.port = benchkit.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"{name}-server.log"
        env = {**os.environ, "DOCVOUCH_LOG_LEVEL": "info", "DOCVOUCH_LOG_FORMAT": "json"}
        if home:
            env["DOCVOUCH_HOME"] = home
        self._log = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "docvouch", "serve", "--port", str(self.port),
             "--workers", str(workers)], env=env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)

    def wait_ready(self, deadline_s: float = 300) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"docvouch serve exited ({self.process.returncode}):\n{tail}")
            with contextlib.suppress(OSError), urllib.request.urlopen(
                    self.url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise SystemExit(f"{self.url} not ready within {deadline_s:.0f} s")

    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as response:
            return parse_metrics(response.read().decode())

    def pids(self) -> set[int]:
        return {self.process.pid} | benchkit.descendants(self.process.pid)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return int(self.process.returncode)


@dataclass
class Samples:
    healthz_ms: list[float] = field(default_factory=list)
    healthz_failed: list[str] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    pss_mib: list[float] = field(default_factory=list)


class Sampler(threading.Thread):
    """/healthz every ``probe_s`` (new connection each time) and memory every ``memory_s``."""

    def __init__(self, server: Server, probe_s: float = 0.25, memory_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.server, self.probe_s, self.memory_s = server, probe_s, memory_s
        self.samples = Samples()
        self.stopped = threading.Event()

    def run(self) -> None:
        next_memory = 0.0
        while not self.stopped.is_set():
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    self.samples.healthz_ms.append((time.perf_counter() - started) * 1000)
                else:
                    self.samples.healthz_failed.append(f"HTTP {status}")
            except OSError as exc:
                self.samples.healthz_failed.append(type(exc).__name__)
            if time.monotonic() >= next_memory:
                rss, pss = memory_mib(self.server.process.pid)
                self.samples.rss_mib.append(rss)
                self.samples.pss_mib.append(pss)
                next_memory = time.monotonic() + self.memory_s
            self.stopped.wait(max(0.0, self.probe_s - (time.perf_counter() - started)))


# ---------------------------------------------------------------------------- cases

@dataclass
class CaseResult:
    case: str
    command: str
    figures: dict[str, Any]
    samples: Samples
    baseline_mib: tuple[float, float]
    server_ms: dict[int, list[float]]
    metrics: dict[str, float]
    cpu: dict[str, float]
    load_avg: tuple[float, float]
    code: str
    pss_end: list[tuple[str, float]]
    notes: list[str] = field(default_factory=list)


def run_case(name: str, args: argparse.Namespace, out: Path) -> CaseResult:
    """One case on a fresh server; its access log is kept as OUT/NAME-server.log."""
    code_measured = code_state()
    server = Server(args.workers, args.home, out, name)
    try:
        server.wait_ready()
        time.sleep(1.0)  # let the workers settle after mapping the index
        metrics_before = server.metrics()
        baseline = memory_mib(server.process.pid)
        load_before = os.getloadavg()[0]
        sampler = Sampler(server)
        own_before = cpu_s({os.getpid()})
        server_pids = server.pids()
        server_cpu_before = cpu_s({server.process.pid})
        workers_cpu_before = cpu_s(server_pids - {server.process.pid})
        machine_before = machine_busy_s()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        sampler.start()
        try:
            if name == "L1":
                command, figures, notes = run_wrk(server.url, args, out)
            else:
                command, figures, notes = run_locust(server.url, args, out)
        finally:
            sampler.stopped.set()
            sampler.join()
        elapsed = time.monotonic() - started
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_pids |= server.pids()
        cpu = {
            "wall_s": elapsed,
            "server": cpu_s({server.process.pid}) - server_cpu_before,
            "workers": cpu_s(server_pids - {server.process.pid}) - workers_cpu_before,
            "tool": (children_after.ru_utime + children_after.ru_stime)
            - (children_before.ru_utime + children_before.ru_stime),
            "bench": cpu_s({os.getpid()}) - own_before,
            "machine": machine_busy_s() - machine_before,
        }
        metrics = {k: v - metrics_before.get(k, 0.0) for k, v in server.metrics().items()}
        pss_end = pss_by_process(server.process.pid)
    finally:
        code = server.stop()
    result = CaseResult(name, command, figures, sampler.samples, baseline,
                        parse_access_log(server.log), metrics, cpu,
                        (load_before, os.getloadavg()[0]), code_measured, pss_end, notes)
    tracebacks = server.log.read_text(errors="replace").count("Traceback")
    if tracebacks or code != 0:
        result.notes.append(f"server exit code {code}, {tracebacks} traceback(s) in its log")
    return result


def run_wrk(url: str, args: argparse.Namespace, out: Path) -> tuple[str, dict[str, Any],
                                                                   list[str]]:
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk; "
                         "scripts/install-test-deps installs it)")
    duration = args.duration or args.wrk_duration
    argv = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}", "--latency",
            "--timeout", args.wrk_timeout, "-s", str(LUA), url + "/v1/verify"]
    shown = (f"wrk -t{args.threads} -c{args.connections} -d{duration} --latency --timeout "
             f"{args.wrk_timeout} -s deploy/load/verify.lua http://127.0.0.1:PORT/v1/verify")
    benchkit.progress(f"L1: {shown}")
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          timeout=seconds(duration) + 120)
    (out / "wrk.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0 or WRK_MARK not in done.stdout:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    parsed = parse_wrk(done.stdout)
    figures = wrk_figures(parsed)
    figures["text_latency_ms"] = parsed["latency_ms"]
    notes = []
    if parsed.get("non_2xx") != sum(n for c, n in figures["statuses"].items()
                                    if not 200 <= c < 400):
        notes.append(f"wrk's own non-2xx count ({parsed.get('non_2xx')}) differs from the "
                     "script's status counts")
    return shown, figures, notes


def run_locust(url: str, args: argparse.Namespace, out: Path) -> tuple[str, dict[str, Any],
                                                                      list[str]]:
    run_time = args.duration or args.run_time
    prefix = Path(args.csv) if args.csv else out / "load"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", str(args.users), "-r", str(args.spawn_rate), "-t", run_time,
            f"--csv={prefix}", "--host", url, "--only-summary",
            "--think-time", args.think_time]
    try:
        csv_shown = prefix.resolve().relative_to(ROOT)
    except ValueError:
        csv_shown = Path("PREFIX")
    shown = (f"locust -f deploy/load/locustfile.py --headless -u {args.users} "
             f"-r {args.spawn_rate} -t {run_time} --csv={csv_shown} "
             "--host http://127.0.0.1:PORT")
    if args.think_time != "0.5,1.5":
        shown += f" --think-time {args.think_time}"
    benchkit.progress(f"L2: {shown}")
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          timeout=seconds(run_time) + 180, cwd=ROOT)
    (out / "locust.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode not in (0, 1):  # 1: some requests failed, which the table shows
        raise SystemExit(f"locust failed ({done.returncode}):\n{done.stderr[-4000:]}")
    figures = locust_figures(parse_locust(prefix), seconds(run_time))
    notes = []
    if "CPU usage above" in done.stderr or "CPU usage was too high" in done.stderr:
        notes.append("locust warned that its own CPU usage was above 90%: its latencies "
                     "include time its process spent waiting for the CPU")
    return shown, figures, notes


# ---------------------------------------------------------------------------- report

def pct(values: list[float], q: float) -> float:
    return benchkit.percentile(values, q)


def ms(value: float) -> str:
    if value != value:  # NaN
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def rate(errors: int, total: int) -> str:
    return f"{100 * errors / total:.3f}%" if total else "–"


def code_state() -> str:
    """The commit measured, and whether the service's code had uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "service"], capture_output=True, text=True,
                               check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "code: not a git checkout"
    changed = sorted(line[3:] for line in dirty if line.strip())
    return f"code: commit {head}" + (
        f" plus uncommitted changes to {', '.join(changed)}" if changed else "")


def report(results: list[CaseResult], args: argparse.Namespace) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    command = "python bench/overload.py " + " ".join(
        a if not a.startswith("/") else "DIR" for a in sys.argv[1:])
    lines = [
        SECTION, "",
        f"Command: `{command.strip()}` on {date} ({benchkit.machine()}). The load tool, the "
        "server and its workers share the machine's 2 cores; the CPU shares below say how "
        "much other work ran at the same time. Compare these figures only with runs on the "
        "same machine.",
        f"Server: a fresh `python -m docvouch serve --workers {args.workers}` per case on "
        "loopback, default corpus and settings (queue_max 64, request_deadline_s 10, result "
        "cache on, JSON access log at info level).",
        "",
        "Counting: `200` is an answer. `503` with `Retry-After` is the service's documented "
        "back-pressure (queue full), counted apart and **not an error**. Errors: any other "
        "status, a 503 without Retry-After, a socket error or timeout (wrk), a failed "
        "request (locust). Error rate = errors / all requests, 503s included.",
        "",
    ]
    for r in results:
        lines += case_lines(r)
    return "\n".join(lines).rstrip("\n") + "\n"


def case_lines(r: CaseResult) -> list[str]:
    f = r.figures
    lines = [f"### {r.case}: `{r.command}`", "", f"Measured {r.code}.", ""]
    if r.case == "L1":
        lines += [
            "Closed loop: each of the connections posts a distinct answer of about 2 KB "
            f"(mean request body {f['mean_body_bytes']:,.0f} bytes) as soon as the previous "
            "one is answered; after a 503 it sends the next one at once (wrk ignores "
            "Retry-After). `--timeout 15s` (longer than the 10 s deadline) so that wrk keeps "
            "every latency: with its default of 2 s, slower responses would be left out of "
            "its histogram and counted as timeouts.", "",
            "| answers (200) | answers/s | 503 + Retry-After | 503/s | errors | error rate "
            "| p50 ms | p99 ms | max ms | all responses/s |",
            "|---|---|---|---|---|---|---|---|---|---|",
            f"| {f['answers']:,} | {f['answers_per_s']:.1f} | {f['backpressure']:,} | "
            f"{f['backpressure'] / f['wall_s']:,.0f} | {f['errors']:,} | "
            f"{rate(f['errors'], f['responses'])} | {ms(f['p50_ms'])} | {ms(f['p99_ms'])} | "
            f"{ms(f['max_ms'])} | {f['requests_per_s']:,.0f} |", "",
            "wrk's latencies (p50, p99, max) are over all responses, 503s included: most "
            "responses are 503s. Server-side times by status are in the access-log table "
            "below. Status counts: " + ", ".join(
                f"{code}: {n:,}" for code, n in sorted(f["statuses"].items()))
            + "; wrk socket errors: " + ", ".join(
                f"{k} {v}" for k, v in f["socket_errors"].items()) + ".", "",
        ]
    else:
        lines += [
            "Users post 2 KB (70%), 20 KB (25%) and 100 KB (5%; 100,000 characters, the "
            "`max_answer_chars` limit) answers made of the labelled answers, each "
            "different; a user thinks 0.5-1.5 s between requests and waits Retry-After "
            "(at most 10 s) after a 503. Latencies are locust's (client side, rounded by "
            "locust to 2 significant digits above 100 ms).", "",
            "| size | answers (200) | answers/s | p50 ms | p99 ms | max ms | 503 + Retry-After "
            "| 503 p50 ms | errors |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for size, c in f["classes"].items():
            lines.append(f"| {size} | {c['answers']:,} | {c['answers_per_s']:.2f} | "
                         f"{ms(c['p50_ms'])} | {ms(c['p99_ms'])} | {ms(c['max_ms'])} | "
                         f"{c['backpressure']:,} | {ms(c['busy_p50_ms'])} | "
                         f"{c['failures']:,} |")
        lines += [
            f"| all | {f['answers']:,} | {f['answers'] / f['wall_s']:.2f} | {ms(f['p50_ms'])}"
            f"* | {ms(f['p99_ms'])}* | {ms(f['max_ms'])}* | {f['backpressure']:,} | – | "
            f"{f['errors']:,} |", "",
            "\\* over all requests, 503s included (locust's Aggregated row).", "",
        ]
        worst = max((c["p99_ms"] for c in f["classes"].values() if c["answers"]),
                    default=float("nan"))
        error_ok = f["error_rate"] < 0.001
        p99_ok = worst < DEADLINE_S * 1000 and f["p99_ms"] < DEADLINE_S * 1000
        lines += [
            f"Gate (RELIABILITY L2): error rate < 0.1%: **{'met' if error_ok else 'NOT met'}**"
            f" ({f['errors']:,} errors in {f['requests']:,} requests, "
            f"{rate(f['errors'], f['requests'])}; {f['backpressure']:,} × 503 with "
            f"Retry-After counted apart); p99 < 10 s: **{'met' if p99_ok else 'NOT met'}** "
            f"(answers' p99 {ms(worst)} ms in the slowest size class; all requests "
            f"{ms(f['p99_ms'])} ms).", "",
        ]
        if f["failures"]:
            lines += ["Failures: " + "; ".join(
                f"{x['name']}: {x['error']} × {x['occurrences']:,}" for x in f["failures"])
                + ".", ""]
    lines += server_lines(r) + resource_lines(r) + [f"- {n}" for n in r.notes]
    return [*lines, ""]


def server_lines(r: CaseResult) -> list[str]:
    out = ["Server side, from the access log (time inside the service, queueing included; "
           "not the time a request waited to be read):", "",
           "| status | requests | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|"]
    for status, values in sorted(r.server_ms.items()):
        out.append(f"| {status} | {len(values):,} | {ms(pct(values, 0.5))} | "
                   f"{ms(pct(values, 0.99))} | {ms(max(values))} |")
    if 499 in r.server_ms:
        out += ["", "499: requests still in flight when the load tool stopped and closed "
                "their connections (no response was sent, so they are neither answers nor "
                "errors)."]
    m = r.metrics
    hits = m.get('docvouch_cache_requests_total{result="hit"}', 0)
    joined = m.get('docvouch_cache_requests_total{result="joined"}', 0)
    misses = m.get('docvouch_cache_requests_total{result="miss"}', 0)
    rejected = {k.split('"')[1]: v for k, v in m.items()
                if k.startswith("docvouch_rejected_total") and v}
    restarts = sum(v for k, v in m.items() if k.startswith("docvouch_worker_restarts_total"))
    out += ["", f"Metrics over the run: result cache {misses:,.0f} misses, {hits:,.0f} hits, "
            f"{joined:,.0f} joined (the answers are distinct, so nearly all are computed); "
            "rejections " + (", ".join(f"{k} {v:,.0f}" for k, v in rejected.items()) or "none")
            + f"; worker restarts {restarts:,.0f}. At the end the result cache held "
            f"{m.get('docvouch_cache_entries', 0):,.0f} results, "
            f"{m.get('docvouch_cache_bytes', 0) / 2**20:.1f} MiB by its own count (serialised "
            "size, the measure `cache_max_bytes` bounds).", ""]
    return out


def resource_lines(r: CaseResult) -> list[str]:
    s, cpu = r.samples, r.cpu
    wall = cpu["wall_s"]
    ours = cpu["server"] + cpu["workers"] + cpu["tool"] + cpu["bench"]
    other = max(0.0, cpu["machine"] - ours)
    health = (f"{len(s.healthz_ms):,} probes, p50 {ms(pct(s.healthz_ms, 0.5))} ms, p90 "
              f"{ms(pct(s.healthz_ms, 0.9))} ms, p99 {ms(pct(s.healthz_ms, 0.99))} ms, max "
              f"{ms(max(s.healthz_ms, default=0))} ms, "
              f"{len(s.healthz_failed)} failed") if s.healthz_ms else "no probe answered"
    pss_last = s.pss_mib[-1] if s.pss_mib else 0.0
    return [
        f"- `/healthz` during the run (every 0.25 s, new connection each): {health}.",
        f"- Server memory, all its processes: RSS {r.baseline_mib[0]:.0f} MiB before the "
        f"load, peak {max(s.rss_mib, default=0):.0f} MiB; PSS {r.baseline_mib[1]:.0f} MiB "
        f"before, peak {max(s.pss_mib, default=0):.0f} MiB, {pss_last:.0f} MiB at the end "
        "(RSS counts the shared index pages once per process, PSS once).",
        "- PSS at the end by process: " + ", ".join(
            f"{role} {mib:.0f} MiB" for role, mib in r.pss_end) + " (the children are the "
        "forkserver, the resource tracker and the workers).",
        f"- CPU over {wall:.0f} s, in cores (of 2): server event loop "
        f"{cpu['server'] / wall:.2f}, workers {cpu['workers'] / wall:.2f}, load tool "
        f"{cpu['tool'] / wall:.2f}, this script {cpu['bench'] / wall:.2f}, other work on "
        f"the machine {other / wall:.2f}; 1-minute load average {r.load_avg[0]:.1f} before, "
        f"{r.load_avg[1]:.1f} after.",
        *starved_lines(r),
    ]


def starved_lines(r: CaseResult) -> list[str]:
    """Say so when the workers idled while requests were refused for a full queue."""
    wall, busy = r.cpu["wall_s"], r.figures.get("backpressure", 0)
    workers = r.cpu["workers"] / wall if wall else 0.0
    if not busy or workers >= 0.5:
        return []
    loop = r.cpu["server"] / wall
    health = pct(r.samples.healthz_ms, 0.5)
    return [f"- **The workers were nearly idle ({workers:.2f} cores) while {busy:,} requests "
            f"were refused because the queue was full.** The server's event loop, which both "
            f"answers the connections and hands the workers their jobs, was busy "
            f"({loop:.2f} cores) parsing and refusing requests, so each job waited for it: "
            f"/healthz took {ms(health)} ms (median) in the same time."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="DOCVOUCH_HOME for the started service")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cases", nargs="+", choices=("L1", "L2"), default=["L1", "L2"])
    parser.add_argument("--duration", help="run every case this long (e.g. 20s), overriding "
                        "--wrk-duration and --run-time")
    parser.add_argument("--threads", type=int, default=4, help="wrk -t (default 4)")
    parser.add_argument("--connections", type=int, default=1000, help="wrk -c (default 1000)")
    parser.add_argument("--wrk-duration", default="60s", help="wrk -d (default 60s)")
    parser.add_argument("--wrk-timeout", default="15s", help="wrk --timeout (default 15s)")
    parser.add_argument("--users", type=int, default=200, help="locust -u (default 200)")
    parser.add_argument("--spawn-rate", type=float, default=20, help="locust -r (default 20)")
    parser.add_argument("--run-time", default="5m", help="locust -t (default 5m)")
    parser.add_argument("--think-time", default="0.5,1.5",
                        help="seconds a locust user waits between requests: MIN,MAX")
    parser.add_argument("--csv", help="locust --csv prefix (default: OUT/load)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "overload",
                        help="where the tools' raw output goes (default bench/out/overload)")
    parser.add_argument("--write", type=Path, help="update this RESULTS.md section")
    args = parser.parse_args()
    args.spawn_rate = int(args.spawn_rate) if args.spawn_rate == int(args.spawn_rate) \
        else args.spawn_rate
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 256
    if soft < need:  # wrk and the server (its child) both need a descriptor per connection
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for case in args.cases:
        result = run_case(case, args, args.out)
        results.append(result)
        benchkit.progress("\n".join(case_lines(result)))
    section = report(results, args)
    print(section)
    if args.write:
        benchkit.write_section(args.write, SECTION, section)


if __name__ == "__main__":
    main()
