"""bench/load.py's report: issue 3's targets per row, ``--repeat`` medians and ranges, and
answers that stay distinct when a row is run again against the same server.

The report tests feed made-up rows (no timing is asserted). The distinctness test drives
every client of the script (its two Python ones and wrk) against a real aiohttp server on a
loopback port that records every answer it is sent: a repeated row that sent an earlier
row's text again would be served by docvouch's result cache and inflate the figure.
"""

from __future__ import annotations

import asyncio
import importlib.util
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def load() -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # load.py imports bench/benchkit.py
    spec = importlib.util.spec_from_file_location("docvouch_bench_load", BENCH / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def row(load: ModuleType, rate: float, latency_ms: float, *, workload: str = "distinct",
        concurrency: int = 16, errors: int = 0, engine_ms: float | None = None,
        engine: str = "compiled") -> Any:
    """A 10-second row answering ``rate`` a second, every answer taking ``latency_ms`` (the
    engine's part of it ``engine_ms``, when given), served by the ``engine`` build."""
    count = round(rate * 10)
    result = load.Result(workload, concurrency, 10.0,
                         latencies=[latency_ms / 1000] * count, errors=errors,
                         engine_ms=[] if engine_ms is None else [engine_ms] * count,
                         engine=engine)
    result.probe_ms = (6.5, 6.5)
    return result


def test_a_single_row_is_met_or_not(load: ModuleType) -> None:
    met = load.targets([row(load, 190, 90)])
    missed = load.targets([row(load, 150, 120)])
    assert any(line.endswith("(typical, compiled, python): met (190.0/s, p99 90.0 ms)")
               for line in met)
    assert any(line.endswith("(typical, compiled, python): NOT met (150.0/s, p99 120.0 ms)")
               for line in missed)
    assert load.repeat_summary([row(load, 190, 90)]) == []  # nothing repeated


def test_repeated_rows_say_how_often_the_target_held(load: ModuleType) -> None:
    rows = [row(load, 150, 120), row(load, 210, 85), row(load, 170, 105)]
    lines = load.targets(rows)
    target = next(line for line in lines if "at concurrency 16" in line)
    assert target.endswith("met in 1 of 3 rows (170.0 (150.0–210.0)/s, "
                           "p99 105.0 (85.0–120.0) ms)")
    summary = load.repeat_summary(rows)
    assert "| typical | compiled | distinct | python | 16 | 3 | 170.0 (150.0–210.0) " \
           "| 105.0 (85.0–120.0) | 105.0 (85.0–120.0) | 0 |" in summary


def test_the_target_line_gives_the_engine_speed_of_the_rows_that_met_it_and_missed_it(
        load: ModuleType) -> None:
    rows = [row(load, 150, 120, engine_ms=11.8), row(load, 210, 85, engine_ms=7.9),
            row(load, 170, 105, engine_ms=9.6)]
    target = next(line for line in load.targets(rows) if "at concurrency 16" in line)
    assert target.endswith("met in 1 of 3 rows (170.0 (150.0–210.0)/s, p99 105.0 (85.0–120.0) "
                           "ms; engine p50 7.9 ms where met, 10.7 (9.6–11.8) ms where not)")
    alone = next(line for line in load.targets(rows[1:2]) if "at concurrency 16" in line)
    assert alone.endswith("met (210.0/s, p99 85.0 ms; engine p50 7.9 ms)")


def test_errors_at_256_add_up_over_repeated_rows(load: ModuleType) -> None:
    rows = [row(load, 180, 900, concurrency=256), row(load, 180, 900, concurrency=256,
                                                      errors=2)]
    line = next(line for line in load.targets(rows) if "concurrency 256" in line)
    assert "met in 1 of 2 rows (2 errors" in line


def test_the_open_loop_row_is_checked_at_its_rate(load: ModuleType) -> None:
    rows = [row(load, 100, 30, workload="distinct @ 100/s"),
            row(load, 100, 140, workload="distinct @ 100/s")]
    line = next(line for line in load.targets(rows) if "open loop" in line)
    assert "met in 1 of 2 rows" in line
    faster = [row(load, 150, 70, workload="distinct @ 150/s"),
              row(load, 120, 70, workload="distinct @ 150/s")]  # fell behind the schedule
    line = next(line for line in load.targets(faster) if "open loop" in line)
    assert line.startswith("- open loop, 150 answers/s over at most 16 connections "
                           "(typical, compiled)")
    assert "met in 1 of 2 rows" in line
    slower = [row(load, 60, 20, workload="distinct @ 60/s")]  # below the target's rate
    assert not any("open loop" in line for line in load.targets(slower))


async def test_rows_run_again_send_answers_never_sent_before(
        load: ModuleType, aiohttp_server: Any) -> None:
    texts: list[str] = []

    async def verify(request: web.Request) -> web.Response:
        texts.append((await request.json())["text"])
        # the header as docvouch sends it for an answer computed by a worker
        timing = 'engine;dur=1.5, cache;desc="miss"'
        return web.json_response({"score": 1}, headers={"Server-Timing": timing})

    app = web.Application()
    app.router.add_post("/v1/verify", verify)
    server = await aiohttp_server(app, host="127.0.0.1")
    url = f"http://127.0.0.1:{server.port}"
    rows = []
    for _ in range(2):  # what --repeat 2 does with each kind of row
        rows.append(await load.run_level(url, "An answer.", "distinct", 2, 0.3, 0.0))
        rows.append(await load.run_raw_level(url, "An answer.", "distinct", 2, 0.3, 0.0))
        rows.append(await load.run_open_loop(url, "An answer.", 40, 4, 0.3, 0.0))
        rows.append(await asyncio.to_thread(load.run_wrk, url, "An answer.", "distinct", 2,
                                            1.0, 0.0))
    assert all(r.count > 0 and r.errors == 0 for r in rows)
    assert len(texts) >= sum(r.count for r in rows)
    assert len(set(texts)) == len(texts), "a repeated row sent an answer already sent"
    assert all(text.endswith("An answer.") and text.startswith("Variant ") for text in texts)
    python, raw, open_loop, wrk = rows[0], rows[1], rows[2], rows[3]
    assert python.engine_ms and set(python.engine_ms) == {1.5}
    assert open_loop.engine_ms and set(open_loop.engine_ms) == {1.5}
    # wrk reads the engine's time from every answer's Server-Timing header too
    assert len(wrk.engine_ms) == wrk.count and set(wrk.engine_ms) == {1.5}
    assert len(raw.samples) == raw.count and {e for _, _, e in raw.samples} == {1.5}
    assert all(0 <= sent <= 0.3 and latency > 0 for sent, latency, _ in raw.samples)


def test_the_engine_time_is_read_only_from_answers_a_worker_computed(
        load: ModuleType) -> None:
    assert load.engine_time('engine;dur=8.25, cache;desc="miss"') == 8.25
    assert load.engine_time('engine;dur=8.25, cache;desc="hit"') is None  # the cached time
    assert load.engine_time("") is None


def test_the_speed_split_sets_slow_seconds_beside_fast_ones(load: ModuleType) -> None:
    result = load.Result("distinct", 16, 6.0, client="raw")
    for second in range(6):  # seconds 0-2: 8 ms answers in 70 ms; 3-5: 12 ms in 110 ms
        slow = second >= 3
        for i in range(100 if slow else 150):
            result.samples.append((second + i / 200, 0.110 if slow else 0.070,
                                   12.0 if slow else 8.0))
    result.answer = "typical"
    lines = load.speed_split([result])
    assert lines[2] == ("- `typical` compiled distinct at concurrency 16 (6 seconds): faster half: "
                        "engine 8.0 ms an answer, 150 answers/s, p99 70.0 ms; slower half: "
                        "engine 12.0 ms an answer, 100 answers/s, p99 110.0 ms.")
    assert load.speed_split([row(load, 150, 70)]) == []  # no per-request samples


def test_each_engine_is_checked_apart_and_set_against_the_python_reference(
        load: ModuleType) -> None:
    rows = [row(load, 210, 85, engine_ms=7.0), row(load, 160, 120, engine_ms=10.0,
                                                    engine="python"),
            row(load, 230, 80, engine_ms=6.0), row(load, 150, 130, engine_ms=11.0,
                                                   engine="python")]
    lines = load.targets(rows)
    compiled = next(line for line in lines if "(typical, compiled, python)" in line)
    python = next(line for line in lines if "(typical, python, python)" in line)
    assert "met in 2 of 2 rows" in compiled and "met in 0 of 2 rows" in python
    [ratio] = [line for line in load.engine_ratios(rows) if line.startswith("- ")]
    # medians: 220 against 155 answers/s, p99 82.5 against 125, engine 6.5 against 10.5 ms
    assert ratio == ("- `typical` distinct, python, concurrency 16: answers/s × 1.42, "
                     "p99 × 0.66, engine time per answer × 0.62 (6.5 against 10.5 ms)")
    assert load.engine_ratios(rows[:1]) == []  # nothing to set it against


@pytest.mark.parametrize("value", ["0", "-2", "x"])
def test_a_repeat_below_one_is_refused_with_the_reason(value: str) -> None:
    done = subprocess.run([sys.executable, str(BENCH / "load.py"), "--repeat", value],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "argument --repeat: must be" in done.stderr


def test_the_report_header_says_how_the_interpreter_links_libpython(load: ModuleType) -> None:
    # The same service ran about 13% faster on a build with libpython linked in (Debian's,
    # PGO and LTO) than on a shared-libpython source build: the header must tell them apart.
    line = load.benchkit.interpreter()
    assert line.startswith(f"Python {platform.python_version()} (")
    linked = subprocess.run(["ldd", sys.executable], capture_output=True, text=True,
                            check=True).stdout
    shared = "libpython" in linked
    assert ("shared libpython" in line) is shared and ("static libpython" in line) is not shared
    assert line in load.benchkit.machine()
