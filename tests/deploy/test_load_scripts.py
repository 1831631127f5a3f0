"""The load scripts of RELIABILITY L1/L2 really run: wrk with deploy/load/verify.lua and
locust with deploy/load/locustfile.py, briefly, against a real ``docvouch serve``.

Not a timing test: what is checked is that requests were made, that every response was a
200 or a 503 with Retry-After (the service's back-pressure, which both scripts count apart
from errors), and that bench/overload.py's parsers find the figures it reports. The server
runs 1 worker with ``queue_max`` 1, so with 20 wrk connections or 10 locust users always
sending, more requests are in flight than it can hold: the 503 path of both scripts runs
whatever the speed of the machine. wrk (Debian) and locust (the ``test`` extra) are
installed by scripts/install-test-deps and ``pip install -e '.[test]'``.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from deploy_support import DEPLOY, REPO, load_module

LUA = DEPLOY / "load" / "verify.lua"
LOCUSTFILE = DEPLOY / "load" / "locustfile.py"
ROW_NAMES = {f"verify {size}{suffix}" for size in ("2KB", "20KB", "100KB")
             for suffix in ("", " 503")} | {"Aggregated"}
# The locustfile's answer sizes, in characters: 2 KB, 20 KB and 100,000 (max_answer_chars)
SIZE_RANGES = [(1_500, 2_048), (18_000, 20_480), (90_000, 100_000)]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def overload() -> ModuleType:
    bench = str(REPO / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)  # bench/overload.py imports bench/benchkit.py
    return load_module("docvouch_bench_overload", REPO / "bench" / "overload.py")


@pytest.fixture(scope="module")
def server(docvouch_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    support = load_module("docvouch_server_process", REPO / "tests" / "service"
                          / "server_process.py")
    log = tmp_path_factory.mktemp("load-scripts") / "server.log"
    proc = support.ServerProcess(docvouch_home, log, workers=1, queue_max=1, log_level="info")
    try:
        wait_ready(proc)
        yield proc
    finally:
        if proc.process.poll() is None:
            proc.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        proc.close()


def wait_ready(proc: Any, deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        assert proc.process.poll() is None, proc.tail()
        try:
            with urllib.request.urlopen(proc.base + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready within {deadline_s} s: {proc.tail()}")


def verify_lines(proc: Any, since: int) -> list[dict[str, Any]]:
    """The access-log lines of POST /v1/verify after the first ``since`` lines."""
    return [x for x in proc.lines()[since:]
            if x.get("event") == "request" and x.get("route") == "/v1/verify"]


def test_wrk_with_verify_lua_posts_distinct_answers_and_counts_503s_apart(
        server: Any, overload: ModuleType) -> None:
    since = len(server.lines())
    wrk = shutil.which("wrk")
    assert wrk, "wrk is missing: scripts/install-test-deps installs it (Debian package wrk)"
    done = subprocess.run(
        [wrk, "-t2", "-c20", "-d3s", "--latency", "--timeout", "15s", "-s", str(LUA),
         server.base + "/v1/verify"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    parsed = overload.parse_wrk(done.stdout)

    summary = parsed["summary"]  # verify.lua's done() line
    statuses = {int(code): n for code, n in summary["statuses"].items()}
    assert statuses.get(200, 0) > 0, done.stdout
    assert set(statuses) <= {200, 503}, done.stdout
    assert statuses.get(503, 0) > 0, "20 connections against 2 slots must see back-pressure"
    assert summary["retry_after_503"] == statuses[503] and summary["bare_503"] == 0
    assert summary["errors"] == {"connect": 0, "read": 0, "write": 0, "status": statuses[503],
                                 "timeout": 0}
    assert summary["sent"] >= summary["requests"] == sum(statuses.values())
    assert 1_800 <= summary["mean_body_bytes"] <= 2_400  # "about 2 KB"

    # wrk's own text agrees with the script, and every figure the report quotes is there
    assert parsed["requests"] == summary["requests"]
    assert parsed["non_2xx"] == statuses[503]
    assert set(parsed["latency_ms"]) == {50, 75, 90, 99}
    assert parsed["socket_errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    figures = overload.wrk_figures(parsed)
    assert figures["answers"] == statuses[200] and figures["backpressure"] == statuses[503]
    assert figures["errors"] == 0
    for key in ("answers_per_s", "p50_ms", "p99_ms", "max_ms", "wall_s"):
        assert figures[key] > 0, key

    # distinct answers: the result cache answered none of them
    # (the server is shared: a request of an earlier test may still finish meanwhile, so
    # only this tool's own requests are looked at)
    answers = [x for x in verify_lines(server, since) if x["status"] == 200 and
               x["site"] == "wrk"]
    assert answers and all(x["cache"] == "miss" for x in answers)
    assert all(1_800 <= x["chars"] <= 2_400 for x in answers)


def test_locust_with_the_locustfile_sends_the_size_mix_and_503s_are_not_failures(
        server: Any, overload: ModuleType, tmp_path: Path) -> None:
    since = len(server.lines())
    prefix = tmp_path / "load"
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "10",
         "-r", "10", "-t", "5s", f"--csv={prefix}", "--host", server.base, "--only-summary",
         "--think-time", "0,0.1"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]  # 1 would mean failed requests
    parsed = overload.parse_locust(prefix)

    rows = parsed["rows"]
    assert set(rows) <= ROW_NAMES and "Aggregated" in rows, set(rows)
    assert rows["Aggregated"]["count"] > 0
    assert rows["Aggregated"]["failures"] == 0 and parsed["failures"] == []
    assert rows["verify 2KB"]["count"] > 0
    busy = sum(row["count"] for name, row in rows.items() if name.endswith(" 503"))
    assert busy > 0, "10 users against 2 slots must see back-pressure"
    figures = overload.locust_figures(parsed, 5.0)
    assert figures["errors"] == 0 and figures["requests"] == rows["Aggregated"]["count"]
    assert figures["answers"] + figures["backpressure"] == figures["requests"]
    assert figures["classes"]["2KB"]["answers"] > 0
    assert figures["classes"]["2KB"]["p99_ms"] > 0

    # The server answered only 200 and 503 (499: a request locust abandoned when its run
    # time was up), and the answers were of the three sizes and all distinct.
    lines = verify_lines(server, since)
    assert {x["status"] for x in lines} <= {200, 499, 503}
    # (the previous test's abandoned wrk requests may still finish meanwhile: only
    # locust's own requests are looked at)
    answers = [x for x in lines if x["status"] == 200 and x["site"] == "locust"]
    assert answers and all(x["cache"] == "miss" for x in answers)
    for x in answers:
        assert any(low <= x["chars"] <= high for low, high in SIZE_RANGES), x["chars"]
