"""Per-answer latency, memory and index build rate at growing corpus sizes.

    python bench/latency.py                          # 10k, 100k, 1M passages
    python bench/latency.py --sizes 10000,100000 --runs 200

The corpus is the default (stdlib) corpus scaled by perturbed copies: each copy drops and
swaps a few words per passage and adds a copy-specific term, so the vocabulary and the
posting lists grow the way a larger documentation set's would. The answer is
``bench/answers/answer_400w.md`` (about 20 claims, prose and code). The reference is the
same pipeline with retrieval done by rank-bm25 (Lucene scoring on rank-bm25's statistics,
as in the oracle test), measured in the same run. ``host probe ms`` is a fixed pure-Python
workload timed before and after the typical answer (``benchkit.host_probe_ms``): this machine's
speed drifts, and the probe tells a slow minute of the machine from a slow change.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# The reference swaps the engine's index for rank-bm25's, which the mypyc-compiled Engine's
# typed attribute refuses: both sides run the interpreted engine (as every figure here
# always has), so the ratio is retrieval's alone. bench/load.py measures the compiled one.
os.environ["DOCVOUCH_ACCEL"] = "0"
from benchkit import host_probe_ms  # bench/ is the script directory, first on sys.path
from docvouch.engine import Engine
from docvouch.index import BM25_B, BM25_K1, Hit, Index, build_index, passage_terms
from docvouch.passages import Passage
from docvouch.store import ensure_default_index, resolve_home

HERE = Path(__file__).resolve().parent
ANSWER = (HERE / "answers" / "answer_400w.md").read_text(encoding="utf-8")
# The workload issue 2 names: about 400 words and about 15 claims, as an assistant writes
# them (intro, headings, one code block, a sign-off). ANSWER above is denser: the same
# length with ~24 claims, so its figures are the harder ones.
TYPICAL_ANSWER = (HERE / "answers" / "answer_400w_15claims.md").read_text(encoding="utf-8")


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def scaled_corpus(base: list[Passage], size: int, seed: int = 5) -> list[Passage]:
    rng = random.Random(seed)
    out: list[Passage] = []
    copy = 0
    while len(out) < size:
        for p in base:
            if len(out) >= size:
                break
            if copy == 0:
                out.append(p)
                continue
            words = p.text.split()
            for _ in range(max(1, len(words) // 12)):
                if len(words) > 2:
                    i, j = rng.randrange(len(words)), rng.randrange(len(words))
                    words[i], words[j] = words[j], words[i]
            out.append(Passage(id=f"{p.id}~{copy}", url=p.url, title=f"{p.title} v{copy}",
                               text=" ".join(words) + f" variant{copy}", source=p.source))
        copy += 1
    return out


class RankBM25Index:
    """The reference retrieval: rank-bm25's statistics, Lucene scoring, full sort."""

    def __init__(self, index: Index, passages: list[Passage]) -> None:
        from rank_bm25 import BM25

        class Lucene(BM25):
            def _calc_idf(self, nd):
                self.idf = {w: math.log(1 + (self.corpus_size - df + 0.5) / (df + 0.5))
                            for w, df in nd.items()}

        self._inner = index
        self._bm25 = Lucene([passage_terms(p) or ["<empty>"] for p in passages])
        self._lengths = np.array(self._bm25.doc_len)

    def search_terms(self, queries, *, k: int = 10) -> list[list[Hit]]:
        out = []
        for terms in queries:
            scores = np.zeros(self._bm25.corpus_size)
            norm = BM25_K1 * (1 - BM25_B + BM25_B * self._lengths / self._bm25.avgdl)
            for term in terms:
                freq = np.array([doc.get(term, 0) for doc in self._bm25.doc_freqs])
                scores += self._bm25.idf.get(term, 0.0) * freq / (freq + norm)
            top = np.argsort(-scores, kind="stable")[:k]
            out.append([Hit(int(i), float(scores[i])) for i in top if scores[i] > 0])
        return out

    def __getattr__(self, name):
        return getattr(self._inner, name)


def time_answers(engine: Engine, runs: int, *, cold: bool = True, answer: str = ANSWER
                 ) -> list[float]:
    """Milliseconds per answer. Cold: the engine's passage caches are emptied before each
    answer, so every run reads its passages from the index like a first request does."""
    engine.verify(answer)  # imports, code paths and the OS page cache warm, as in a server
    samples = []
    for _ in range(runs):
        if cold:
            engine.clear_caches()
        started = time.perf_counter()
        engine.verify(answer)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--reference-max", type=int, default=100_000,
                        help="largest size at which rank-bm25 is also measured")
    parser.add_argument("--reference-runs", type=int, default=5)
    parser.add_argument("--home")
    args = parser.parse_args(argv)
    base_engine = Engine.open(ensure_default_index(resolve_home(args.home)))
    base = [base_engine.index.passage(i) for i in range(base_engine.index.size)]
    symbols = base_engine.index.symbols
    claims = base_engine.verify(ANSWER)["summary"]["claims"]
    typical_claims = base_engine.verify(TYPICAL_ANSWER)["summary"]["claims"]
    print(f"# latency · {time.strftime('%Y-%m-%d')} · {platform.machine()} · "
          f"{os.cpu_count()} cores · Python {platform.python_version()}")
    print(f"answer: {len(ANSWER.split())} words, {claims} claims; typical answer: "
          f"{len(TYPICAL_ANSWER.split())} words, {typical_claims} claims; runs per size: "
          f"{args.runs}")
    print()
    print("| passages | build s | passages/s | index MiB | RSS MiB | cold p50 ms | cold p99 ms "
          "| warm p50 ms | rank-bm25 p50 ms | speed-up (cold) | typical: cold p50 ms "
          "| typical: cold p99 ms | host probe ms (before / after) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        corpus = scaled_corpus(base, size)
        with tempfile.TemporaryDirectory(prefix="docvouch-bench-") as tmp:
            directory = Path(tmp) / "index"
            gc.collect()
            started = time.perf_counter()
            usable = [sym for sym in symbols if sym.passage < size]
            build_index(directory, corpus, usable, corpus={"name": "bench", "version": "x"})
            build_s = time.perf_counter() - started
            disk = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**20
            engine = Engine.open(directory)
            gc.freeze()  # as a service worker does once its index is loaded
            samples = time_answers(engine, args.runs)
            warm = time_answers(engine, args.runs, cold=False)
            before = host_probe_ms()  # the host's speed around the typical answer's runs
            typical = time_answers(engine, args.runs, answer=TYPICAL_ANSWER)
            probe = f"{before:.1f} / {host_probe_ms():.1f}"
            rss = rss_mib()
            ref = "–"
            ratio = "–"
            if size <= args.reference_max:
                engine.index = RankBM25Index(engine.index, corpus)  # type: ignore[assignment]
                ref_samples = time_answers(engine, args.reference_runs, cold=False)
                ref = f"{statistics.median(ref_samples):.0f}"
                ratio = f"{statistics.median(ref_samples) / statistics.median(samples):.0f}×"
            print(f"| {size:,} | {build_s:.1f} | {size / build_s:,.0f} | {disk:.0f} | {rss:.0f} "
                  f"| {statistics.median(samples):.1f} | {pct(samples, 0.99):.1f} "
                  f"| {statistics.median(warm):.1f} | {ref} "
                  f"| {ratio} | {statistics.median(typical):.1f} | {pct(typical, 0.99):.1f} "
                  f"| {probe} |",
                  flush=True)
            del engine, corpus
            gc.unfreeze()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the whole run: {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
