"""The compiled engine against the interpreted one: time per typical answer, side by side.

    python bench/accel_speed.py [--rounds 6] [--answers 200] [--alone] [--home DIR]

Each round runs both engines at once, as two processes pinned to the same core (core 0 in
even rounds, core 1 in odd ones), each timing the same distinct typical answers
(bench/answers/answer_400w_15claims.md with a different first line every time) after a
warm-up, in CPU time (the core is shared, so wall time would count the other's turns).
This machine's speed drifts from minute to minute, and each core's on its own: on one
core at once, the pair takes the same drift, so the ratio of each round is the figure and
the median of the rounds is reported. ``--alone`` runs the two one after the other on the
core instead (order swapped each round): each then has the core, and its caches, to
itself. Needs a fresh `docvouch accel build`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
ANSWER = HERE / "answers" / "answer_400w_15claims.md"

_CHILD = """
import gc, os, sys, time, orjson
from pathlib import Path
from docvouch import accel
from docvouch.store import ensure_default_index, resolve_home
from docvouch.engine import Engine
engine = Engine.open(ensure_default_index(resolve_home(None)), verify_checksums=False)
text = Path(sys.argv[1]).read_text(encoding="utf-8")
count = int(sys.argv[2])
for i in range(30):
    engine.verify(f"Warm-up {i}.\\n\\n" + text)
gc.collect(); gc.freeze()
times = []
for i in range(count):
    started = time.thread_time()
    engine.verify(f"Variant {i}.\\n\\n" + text)
    times.append((time.thread_time() - started) * 1000)
sys.stdout.buffer.write(orjson.dumps({"engine": accel.state().label, "times": times}))
"""


def run_pair(core: int, answers: int, env: dict[str, str], *, alone: bool = False
             ) -> dict[str, list[float]]:
    out = {}
    engines = ("compiled", "python") if core == 0 else ("python", "compiled")
    procs = []
    for engine in engines:
        proc = subprocess.Popen(
            ["taskset", "-c", str(core), sys.executable, "-c", _CHILD, str(ANSWER),
             str(answers)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**env, "DOCVOUCH_ACCEL": "1" if engine == "compiled" else "0"})
        if alone:
            out[engine] = _result(engine, proc)
        else:
            procs.append((engine, proc))
    for engine, proc in procs:
        out[engine] = _result(engine, proc)
    return out


def _result(engine: str, proc: subprocess.Popen[bytes]) -> list[float]:
    stdout, stderr = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"the {engine} run failed:\n{stderr.decode()[-2000:]}")
    result = orjson.loads(stdout)
    if result["engine"] != engine:
        raise SystemExit(f"asked for the {engine} engine, got {result['engine']}: "
                         "`docvouch accel status` says why (`make accel` builds it)")
    return result["times"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--answers", type=int, default=200, help="timed answers per engine "
                        "and round")
    parser.add_argument("--alone", action="store_true", help="one after the other on the "
                        "core, each with the core to itself (default: both at once)")
    parser.add_argument("--home", help="DOCVOUCH_HOME (the default corpus is built there "
                        "if missing)")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.home:
        env["DOCVOUCH_HOME"] = args.home
    ratios, medians = [], {"compiled": [], "python": []}
    print("| round | core | compiled p50 ms | python p50 ms | ratio |")
    print("|---|---|---|---|---|")
    for n in range(args.rounds):
        times = run_pair(n % 2, args.answers, env, alone=args.alone)
        p50 = {engine: statistics.median(t) for engine, t in times.items()}
        for engine, value in p50.items():
            medians[engine].append(value)
        ratios.append(p50["compiled"] / p50["python"])
        print(f"| {n + 1} | {n % 2} | {p50['compiled']:.2f} | {p50['python']:.2f} "
              f"| {ratios[-1]:.2f} |", flush=True)
    how = "one after the other" if args.alone else "both at once"
    print(f"\nCompiled / python ({how} on a core), median of {args.rounds} rounds: "
          f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f}); "
          f"p50 per answer {statistics.median(medians['compiled']):.2f} against "
          f"{statistics.median(medians['python']):.2f} ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
