"""Run the public benchmarks of issue 8 and write their section of ``bench/RESULTS.md``.

    python bench/public.py --write bench/RESULTS.md          # what `make bench` runs
    python bench/public.py --data DIR --skip scaling         # a quicker look, no file written

Runs, each as its own process: ``beir_scifact.py``, ``scifact_verify.py``,
``claim_evidence.py`` (data from ``../shared/data``, ``$DOCVOUCH_BENCH_DATA`` or ``--data``;
a missing dataset is reported as skipped, never as a failure) and ``scaling.py`` (pinned to
one CPU with ``--cpu``, default 1, when the OS allows). Their markdown fragments become the
"Public benchmarks (issue 8)" section; every other section of the file is kept as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchkit  # bench/ is the script directory, first on sys.path
from benchkit import DATA_ENV, DEFAULT_DATA_SHOWN, f3, machine, pct

HERE = Path(__file__).resolve().parent
SECTION = "## Public benchmarks (issue 8)"
OUT = HERE / "out" / "public"
BENCHMARKS = ("beir_scifact", "scifact_verify", "claim_evidence", "scaling")


def command_for(name: str, args: argparse.Namespace) -> list[str]:
    script = HERE / f"{name}.py"
    cmd = [sys.executable, str(script), "--out", str(args.out / f"{name}.md"),
           "--json", str(args.out / f"{name}.json")]
    if name == "scaling":
        cmd += ["--sizes", args.scaling_sizes, "--runs", str(args.runs),
                "--reference-runs", args.reference_runs, "--plot", str(args.plot)]
        if args.cpu is not None:
            cmd += ["--cpu", str(args.cpu)]
        if args.home:
            cmd += ["--home", args.home]
    else:
        if args.data:
            cmd += ["--data", args.data]
        if name == "beir_scifact" and args.quick:
            cmd.append("--quick")
    return cmd


def shown(cmd: list[str]) -> str:
    """The command as a reader would type it from the repository root."""
    parts = ["python", f"bench/{Path(cmd[1]).name}"]
    skip_next = False
    for arg in cmd[2:]:
        if skip_next:
            skip_next = False
            continue
        if arg in ("--out", "--json", "--data", "--plot", "--home"):
            skip_next = True
            continue
        parts.append(arg)
    return " ".join(parts)


def run_one(name: str, args: argparse.Namespace) -> tuple[str, float]:
    cmd = command_for(name, args)
    fragment = args.out / f"{name}.md"
    fragment.unlink(missing_ok=True)
    (args.out / f"{name}.json").unlink(missing_ok=True)  # no stale figures in the headlines
    print(f"== {shown(cmd)}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name} failed with exit code {done.returncode}")
    if fragment.exists():
        return fragment.read_text(encoding="utf-8").rstrip("\n"), seconds
    skipped = next((line for line in done.stdout.splitlines() if line.startswith("skipped:")),
                   "skipped")
    return f"### {name}\n\nNot measured in this run: {skipped.split(' at ')[0]}.", seconds


def _load(out: Path, name: str) -> dict[str, Any] | None:
    path = out / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def headlines(out: Path, ran: set[str]) -> list[str]:
    """One line per benchmark with its main figure beside its anchor (from the JSON files)."""
    lines = []
    beir = _load(out, "beir_scifact") if "beir_scifact" in ran else None
    if beir:
        shipped, tuned = beir["rows"][0], beir["rows"][1]
        anchors = ", ".join(f"{p['ndcg@10']:.3f}" for p in beir["published"])
        above = all(shipped["ndcg@10"] > p["ndcg@10"] for p in beir["published"])
        lines.append(
            f"- BEIR SciFact nDCG@10: shipped index {f3(shipped['ndcg@10'])}, parameters "
            f"chosen on train {f3(tuned['ndcg@10'])}; published BM25 {anchors} — "
            + ("above all three." if above else "NOT above all three."))
    verify = _load(out, "scifact_verify") if "scifact_verify" in ran else None
    if verify:
        t, m = verify["tuned"], verify["majority"]
        r = verify["retrieval_recall@3"]
        lines.append(
            f"- SciFact dev: accuracy {pct(t['accuracy'])}, macro-F1 {f3(t['macro_f1'])} "
            f"(majority class {pct(m['accuracy'])} / {f3(m['macro_f1'])}); CONTRADICT is "
            f"never predicted; abstract recall@3 {f3(r['docvouch'])} (rank-bm25 "
            f"{f3(r['rank_bm25'])}).")
    pairs = _load(out, "claim_evidence") if "claim_evidence" in ran else None
    for result in (pairs or {}).get("results", []):
        lines.append(
            f"- {result['name']}: balanced accuracy {pct(result['tuned']['balanced_accuracy'])} "
            f"vs majority {pct(result['majority']['balanced_accuracy'])}.")
    scaling = _load(out, "scaling") if "scaling" in ran else None
    for row in (scaling or {}).get("rows", []):
        ref = (f"; rank-bm25 p50 {row['ref_p50']:,.0f} ms" if "ref_p50" in row else "")
        lines.append(
            f"- {row['passages']:,} passages: cold p50 / p99 {row['cold_p50']:,.0f} / "
            f"{row['cold_p99']:,.0f} ms per answer, warm {row['warm_p50']:,.0f} / "
            f"{row['warm_p99']:,.0f} ms{ref}; build {row['build_s']:.1f} s; serving RSS "
            f"{row['serve_rss_mib']:,.0f} MiB.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--write", type=Path, help="the RESULTS.md whose section to replace")
    parser.add_argument("--data", help=f"data root (default ${DATA_ENV} or {DEFAULT_DATA_SHOWN})")
    parser.add_argument("--skip", action="append", default=[], choices=BENCHMARKS)
    parser.add_argument("--quick", action="store_true", help="small BEIR grid (tests)")
    parser.add_argument("--scaling-sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--reference-runs", default="5,3,1")
    parser.add_argument("--cpu", type=int, default=1 if (os.cpu_count() or 1) > 1 else None)
    parser.add_argument("--plot", type=Path, default=HERE / "scaling.png")
    parser.add_argument("--home", help="DOCVOUCH_HOME holding the default corpus")
    parser.add_argument("--out", type=Path, default=OUT, help="where fragments and JSON go")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    parts, commands, ran = [], [], set()
    for name in BENCHMARKS:
        if name in args.skip:
            continue
        fragment, seconds = run_one(name, args)
        parts.append(fragment)
        ran.add(name)
        commands.append(f"`{shown(command_for(name, args))}` ({seconds:.0f} s)")
    total = time.perf_counter() - started
    data_shown = "`--data`" if args.data else (
        f"`${DATA_ENV}`" if os.environ.get(DATA_ENV) else f"`{DEFAULT_DATA_SHOWN}`")
    header = [
        SECTION, "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}, by `python bench/public.py "
        f"--write bench/RESULTS.md` ({total / 60:.1f} min in all). The machine was shared with "
        "other engineers' work while it ran: timings are noisy and best read as upper "
        "bounds; quality figures are deterministic. Data: read from " + data_shown
        + " (never copied into the repository; provenance and licences in each folder's "
        "SOURCE.md). Nothing is tuned on a reported split: every choice is made on a train "
        "or tuning split and shown.", "",
        "Headlines:", "", *headlines(args.out, ran), "",
        "Commands run (each its own process):", "",
        *(f"- {c}" for c in commands), "",
    ]
    section = "\n".join(header) + "\n" + "\n\n".join(parts) + "\n"
    print(section)
    if args.write:
        benchkit.write_section(args.write, SECTION, section)
        print(f"wrote {SECTION[3:]} into {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
