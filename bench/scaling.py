"""The scaling curve: per-answer latency (cold and warm), memory and build time vs corpus size.

    python bench/scaling.py                                  # 10k, 100k, 1M + bench/scaling.png
    python bench/scaling.py --sizes 10000,100000 --runs 50 --plot bench/out/scaling.png

Built on ``bench/latency.py`` (imported, not changed): the same scaled corpus (the default
stdlib corpus grown by perturbed copies), the same answer (``bench/answers/answer_400w.md``,
about 20 claims) and the same rank-bm25 reference (the whole pipeline with retrieval by
rank-bm25's statistics and full scoring). Every size is measured in fresh processes, so a
memory figure is that process's own and one size's leftovers never inflate the next:

* build:     ``build_index`` on the scaled corpus — seconds, passages/s, MiB on disk;
* serve:     ``Engine.open`` then ``--runs`` pairs of answers: one *cold* — the engine's LRU
             caches cleared first (``engine._passage`` / ``engine._terms``; the OS page cache
             is not dropped, that needs root and would slow everyone's work) — and one
             *warm* right after (caches kept); RSS after;
* reference: the same engine with retrieval swapped for rank-bm25 (its index construction
             timed separately), answering ``--reference-runs`` times; RSS after.

rank-bm25 scores every passage for every query term in Python, so at 1M passages one answer
takes minutes: by default it answers 5 times at 10k, 3 at 100k and once at 1M.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchkit import emit, machine, percentile, pin_to_cpu, progress, table

# The reference swaps the engine's index for rank-bm25's, which the mypyc-compiled Engine's
# typed attribute refuses: both sides run the interpreted engine (as every figure here
# always has), so the ratio is retrieval's alone. bench/load.py measures the compiled one.
os.environ["DOCVOUCH_ACCEL"] = "0"

if TYPE_CHECKING:
    from docvouch.passages import Passage, Symbol

HERE = Path(__file__).resolve().parent
DEFAULT_PLOT = HERE / "scaling.png"


def _mib(kib: float) -> float:
    return kib / 1024


def rss_mib() -> float:
    """Resident set size of this process now (Linux), MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mib() -> float:
    """Peak RSS of this process so far, MiB (ru_maxrss is KiB on Linux)."""
    return _mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _base_corpus(home: str | None) -> tuple[list[Passage], list[Symbol]]:
    """The default (stdlib) corpus's passages and symbols, the seed of every scaled corpus."""
    from docvouch.engine import Engine
    from docvouch.store import ensure_default_index, resolve_home

    engine = Engine.open(ensure_default_index(resolve_home(home)))
    base = [engine.index.passage(i) for i in range(engine.index.size)]
    symbols = list(engine.index.symbols)
    engine.index.close()
    return base, symbols


def child_build(size: int, directory: Path, home: str | None) -> dict[str, Any]:
    """Scale the corpus to ``size`` and build its index; build time, disk and peak memory."""
    import latency
    from docvouch.index import build_index

    base, symbols = _base_corpus(home)
    corpus = latency.scaled_corpus(base, size)
    usable = [s for s in symbols if s.passage < size]
    del base
    gc.collect()
    before = rss_mib()
    started = time.perf_counter()
    build_index(directory, corpus, usable, corpus={"name": "bench", "version": "x"})
    build_s = time.perf_counter() - started
    disk = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**20
    return {"build_s": build_s, "passages_per_s": size / build_s, "disk_mib": disk,
            "rss_before_build_mib": before, "peak_rss_mib": peak_rss_mib()}


def _time_answer(engine: Any, answer: str) -> float:
    started = time.perf_counter()
    engine.verify(answer)
    return (time.perf_counter() - started) * 1000


def child_serve(directory: Path, runs: int) -> dict[str, Any]:
    """Cold and warm per-answer latency of the engine on the built index; RSS after."""
    import latency
    from docvouch.engine import Engine

    before = rss_mib()
    engine = Engine.open(directory)
    claims = engine.verify(latency.ANSWER)["summary"]["claims"]  # interpreter warm-up
    cold, warm = [], []
    # Interleaved, so a burst of load on the shared machine hits both series alike.
    for _ in range(runs):
        engine.clear_caches()  # decoded passages, their term ids, parsed snippets
        cold.append(_time_answer(engine, latency.ANSWER))
        warm.append(_time_answer(engine, latency.ANSWER))  # caches hold this answer's passages
    return {"claims": claims, "cold_ms": cold, "warm_ms": warm,
            "rss_before_open_mib": before, "rss_mib": rss_mib()}


def child_reference(size: int, directory: Path, runs: int, home: str | None) -> dict[str, Any]:
    """The pipeline with rank-bm25 retrieval: its construction time, answers and RSS."""
    import latency
    from docvouch.engine import Engine

    base, _symbols = _base_corpus(home)
    corpus = latency.scaled_corpus(base, size)
    del base
    engine = Engine.open(directory)
    gc.collect()
    before = rss_mib()
    started = time.perf_counter()
    engine.index = latency.RankBM25Index(engine.index, corpus)  # type: ignore[assignment]
    build_s = time.perf_counter() - started
    del corpus
    gc.collect()
    samples = [_time_answer(engine, latency.ANSWER) for _ in range(runs)]
    return {"build_s": build_s, "answers_ms": samples, "rss_before_mib": before,
            "rss_mib": rss_mib()}


def _spawn(args: list[str]) -> dict[str, Any]:
    """Run this script as a child and return the JSON on its last stdout line."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"child {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(size: int, *, runs: int, reference_runs: int, home: str | None) -> dict[str, Any]:
    common = ["--home", home] if home else []
    with tempfile.TemporaryDirectory(prefix="docvouch-scaling-") as tmp:
        directory = Path(tmp) / "index"
        row: dict[str, Any] = {"passages": size}
        progress(f"{size:,}: building")
        row["build"] = _spawn(["--child", "build", "--size", str(size), "--dir", str(directory),
                               *common])
        progress(f"{size:,}: built in {row['build']['build_s']:.1f} s; "
                 f"serving {runs} + {runs} answers")
        row["serve"] = _spawn(["--child", "serve", "--dir", str(directory), "--runs", str(runs)])
        if reference_runs > 0:
            progress(f"{size:,}: rank-bm25 reference, {reference_runs} answer(s)")
            row["reference"] = _spawn(["--child", "reference", "--size", str(size), "--dir",
                                       str(directory), "--runs", str(reference_runs), *common])
        else:
            row["reference"] = None
    return row


def summarise(row: dict[str, Any]) -> dict[str, Any]:
    serve, ref = row["serve"], row["reference"]
    out = {
        "passages": row["passages"], "build_s": row["build"]["build_s"],
        "passages_per_s": row["build"]["passages_per_s"], "disk_mib": row["build"]["disk_mib"],
        "build_peak_rss_mib": row["build"]["peak_rss_mib"], "serve_rss_mib": serve["rss_mib"],
        "cold_p50": percentile(serve["cold_ms"], 0.5),
        "cold_p99": percentile(serve["cold_ms"], 0.99),
        "warm_p50": percentile(serve["warm_ms"], 0.5),
        "warm_p99": percentile(serve["warm_ms"], 0.99),
        "runs": len(serve["cold_ms"]), "claims": serve["claims"],
    }
    if ref is not None:
        out.update({"ref_build_s": ref["build_s"], "ref_rss_mib": ref["rss_mib"],
                    "ref_p50": statistics.median(ref["answers_ms"]),
                    "ref_runs": len(ref["answers_ms"])})
    return out


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Three log-log panels: latency per answer, build time, memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["passages"] for r in rows]
    ref = [r for r in rows if "ref_p50" in r]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    ax = axes[0]
    ax.plot(sizes, [r["cold_p50"] for r in rows], "o-", color="C0", label="DocVouch cold p50")
    ax.plot(sizes, [r["cold_p99"] for r in rows], "o--", color="C0", alpha=0.6,
            label="DocVouch cold p99")
    ax.plot(sizes, [r["warm_p50"] for r in rows], "s-", color="C2", label="DocVouch warm p50")
    ax.plot(sizes, [r["warm_p99"] for r in rows], "s--", color="C2", alpha=0.6,
            label="DocVouch warm p99")
    if ref:
        ax.plot([r["passages"] for r in ref], [r["ref_p50"] for r in ref], "^-", color="C3",
                label="rank-bm25 reference p50")
    ax.set(title=f"per-answer latency ({rows[0]['claims']} claims)" if rows else "latency",
           xlabel="passages", ylabel="ms")
    ax = axes[1]
    ax.plot(sizes, [r["build_s"] for r in rows], "o-", color="C0", label="DocVouch build_index")
    if ref:
        ax.plot([r["passages"] for r in ref], [r["ref_build_s"] for r in ref], "^-", color="C3",
                label="rank-bm25 construction")
    ax.set(title="index build time", xlabel="passages", ylabel="seconds")
    ax = axes[2]
    ax.plot(sizes, [r["serve_rss_mib"] for r in rows], "o-", color="C0",
            label="DocVouch serving RSS")
    ax.plot(sizes, [r["build_peak_rss_mib"] for r in rows], "o:", color="C1",
            label="DocVouch build peak RSS")
    ax.plot(sizes, [r["disk_mib"] for r in rows], "o--", color="C7", label="DocVouch index on disk")
    if ref:
        ax.plot([r["passages"] for r in ref], [r["ref_rss_mib"] for r in ref], "^-", color="C3",
                label="rank-bm25 reference RSS")
    ax.set(title="memory", xlabel="passages", ylabel="MiB")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("DocVouch scaling vs rank-bm25 (one core of a shared 2-core machine)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    def ms(x: float | None) -> str:
        return "–" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:.1f}")

    body = []
    for r in rows:
        ref_p50 = r.get("ref_p50")
        body.append((
            f"{r['passages']:,}", f"{r['build_s']:.1f}", f"{r['passages_per_s']:,.0f}",
            f"{r['disk_mib']:.0f}", f"{r['build_peak_rss_mib']:.0f}", f"{r['serve_rss_mib']:.0f}",
            ms(r["cold_p50"]), ms(r["cold_p99"]), ms(r["warm_p50"]), ms(r["warm_p99"]),
            f"{r['ref_build_s']:.1f}" if "ref_build_s" in r else "not run",
            f"{r['ref_rss_mib']:.0f}" if "ref_rss_mib" in r else "–",
            f"{ms(ref_p50)} (n={r['ref_runs']})" if ref_p50 is not None else "not run",
            f"{ref_p50 / r['cold_p50']:.0f}×" if ref_p50 is not None else "–"))
    lines = [
        "### Scaling curve: latency, memory, build time",
        "",
        f"Command: `{meta['command']}`; {meta['pinning']}; answer: "
        f"`bench/answers/answer_400w.md` ({rows[0]['claims'] if rows else '?'} claims); "
        f"{meta['runs']} cold + {meta['runs']} warm answers per size; {meta['seconds']:.0f} s "
        f"in all. Plot: `{meta['plot']}`.",
        "",
        table(["passages", "build s", "passages/s", "index MiB", "build peak RSS MiB",
               "serving RSS MiB", "cold p50 ms", "cold p99 ms", "warm p50 ms", "warm p99 ms",
               "rank-bm25 build s", "rank-bm25 RSS MiB", "rank-bm25 p50 ms",
               "rank-bm25 / cold p50"], body),
        "",
        "Cold: the engine's passage and term LRU caches cleared before the answer (the OS "
        "page cache is not dropped). Warm: the same answer again right after, caches kept, as "
        "in a running server that sees the same pages again; cold and warm answers alternate "
        "so that load from other work on the machine falls on both. p99 of "
        f"{meta['runs']} answers is their nearest-rank 99th percentile. Serving RSS: a fresh "
        "process after opening the index and answering (mmap pages touched count); build peak "
        "RSS includes the scaled corpus held in memory. rank-bm25 answers are not warmed up "
        "and are few at 100k and 1M because each takes seconds to minutes; its RSS holds its "
        "per-passage term dictionaries.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=100, help="cold and warm answers per size")
    parser.add_argument("--reference-runs", default="5,3,1",
                        help="rank-bm25 answers per size, comma list (the last repeats; 0 skips)")
    parser.add_argument("--home", help="DOCVOUCH_HOME holding the default corpus")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    parser.add_argument("--cpu", type=int, help="pin this run (and its children) to one CPU")
    parser.add_argument("--out", type=Path, help="write the markdown fragment here")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--child", choices=("build", "serve", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "build":
        result = child_build(args.size, args.dir, args.home)
    elif args.child == "serve":
        result = child_serve(args.dir, args.runs)
    elif args.child == "reference":
        result = child_reference(args.size, args.dir, args.runs, args.home)
    else:
        return parent(args)
    print(json.dumps(result))
    return 0


def parent(args: argparse.Namespace) -> int:
    pinning = pin_to_cpu(args.cpu)  # children inherit the affinity
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    ref_runs = [int(n) for n in args.reference_runs.split(",") if n.strip()] or [0]
    print(f"machine: {machine()}; {pinning}", file=sys.stderr)
    started = time.perf_counter()
    raw = [measure(size, runs=args.runs, reference_runs=ref_runs[min(i, len(ref_runs) - 1)],
                   home=args.home) for i, size in enumerate(sizes)]
    rows = [summarise(r) for r in raw]
    plot(rows, args.plot)
    shown_plot = (args.plot.resolve().relative_to(HERE.parent).as_posix()
                  if args.plot.resolve().is_relative_to(HERE.parent) else args.plot.name)
    command = "python bench/scaling.py " + " ".join(
        a for a in (f"--sizes {args.sizes}", f"--runs {args.runs}",
                    f"--reference-runs {args.reference_runs}",
                    f"--cpu {args.cpu}" if args.cpu is not None else "") if a)
    meta = {"command": command, "pinning": pinning, "runs": args.runs,
            "seconds": time.perf_counter() - started, "plot": shown_plot, "machine": machine()}
    emit(render(rows, meta), out=args.out, json_out=args.json,
         payload={"meta": meta, "rows": rows, "raw": raw})
    return 0


if __name__ == "__main__":
    sys.exit(main())
