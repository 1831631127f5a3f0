"""Shared plumbing for the benchmarks (the public ones of issue 8, ``bench/beir_scifact.py``
& co., and the service ones): where the shared data lives, the "skipped" path when it does
not, JSONL reading, the machine line every report starts with, small metric helpers, the
markdown fragments the runner (``bench/public.py``) gathers into ``bench/RESULTS.md``, and
the loopback port and process-tree helpers of the service benchmarks.

The data is never copied into the project. It is read from ``--data DIR`` if given, else
from ``$DOCVOUCH_BENCH_DATA``, else from ``../shared/data`` beside the repository (resolved
from this file's location, not from the working directory).
"""

from __future__ import annotations

import math
import os
import platform
import re
import socket
import sys
import sysconfig
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
DATA_ENV = "DOCVOUCH_BENCH_DATA"
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_DATA_SHOWN = "../shared/data"  # how reports name the default, never an absolute path


def data_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--data`` if given, else ``$DOCVOUCH_BENCH_DATA``, else ``../shared/data``."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get(DATA_ENV)
    if from_env:
        return Path(from_env).expanduser()
    return DEFAULT_DATA


def dataset_dir(explicit: str | os.PathLike[str] | None, name: str,
                required: Sequence[str]) -> Path | None:
    """The folder of dataset ``name`` if it holds every ``required`` file, else None.

    When anything is missing the "skipped" line is printed (the caller exits 0): a
    checkout without the shared data still runs ``make bench`` to the end.
    """
    folder = data_root(explicit) / name
    missing = [rel for rel in required if not (folder / rel).is_file()]
    if missing:
        print(f"skipped: data not found at {folder} (missing {', '.join(missing)})")
        return None
    return folder


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON object of a JSON-lines file (blank lines ignored)."""
    with path.open("rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]


def machine() -> str:
    """Cores, CPU model, OS and Python: the line each report is measured on."""
    cpu = "unknown CPU"
    try:
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.machine()}, "
            f"{interpreter()}")


def interpreter() -> str:
    """This Python's version and what its build says of itself. The build moves every
    figure: the same service ran about 13% faster on Debian's python3 (compiled with PGO
    and LTO, its libpython linked into the executable) than on a plain source build (a
    shared libpython, no --enable-optimizations). Debian's own optimisation flags do not
    show in its configure arguments, so only what is certain is named."""
    build = []
    try:
        maps = Path("/proc/self/maps").read_text()
        build.append("shared libpython" if "/libpython" in maps else "static libpython")
    except OSError:
        pass
    configured = sysconfig.get_config_var("CONFIG_ARGS") or ""
    build += [flag for flag in ("--enable-optimizations", "--with-lto") if flag in configured]
    version = f"Python {platform.python_version()}"
    return f"{version} ({', '.join(build)})" if build else version


_PROBE_WORD_RE = re.compile(r"[a-z_][a-z0-9_]*")
_PROBE_TEXT = " ".join(f"word{i} value_{i % 97} the" for i in range(3000))


def host_probe_ms(rounds: int = 7) -> float:
    """Milliseconds a fixed pure-Python workload takes now (the fastest of ``rounds``).

    This machine's speed drifts: the same code's CPU time per answer moves by half from
    one minute to the next. A benchmark prints this probe beside its figures, so a reader
    can tell a slower run of the machine from a slower change.
    """
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        counts: dict[str, int] = {}
        for word in _PROBE_WORD_RE.findall(_PROBE_TEXT):
            counts[word] = counts.get(word, 0) + 1
        sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        sum(i * i for i in range(60_000))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def pin_to_cpu(cpu: int | None) -> str:
    """Pin this process to one CPU (Linux); returns a note for the report."""
    if cpu is None:
        return "not pinned"
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this OS)"
    if cpu not in os.sched_getaffinity(0):
        return f"not pinned (CPU {cpu} is not available to this process)"
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) — the definition bench/latency.py uses."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """nDCG@k with linear gains and log2 discounts (trec_eval's ``ndcg_cut``)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the top ``k`` (BEIR's per-query recall)."""
    wanted = {doc for doc, g in relevant.items() if g > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else float("nan")


def per_class(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
              ) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of every label."""
    out: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        predicted = sum(p == label for p in pred)
        support = sum(g == label for g in gold)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return out


def classification(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
                   ) -> dict[str, Any]:
    """Accuracy, balanced accuracy (mean recall), macro-F1, per-class figures, confusion."""
    classes = per_class(gold, pred, labels)
    present = [c for c in labels if classes[c]["support"]]
    confusion = {g: {p: sum(a == g and b == p for a, b in zip(gold, pred, strict=True))
                     for p in labels} for g in labels}
    return {
        "n": len(gold),
        "accuracy": sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
        if gold else 0.0,
        "balanced_accuracy": mean(classes[c]["recall"] for c in present),
        "macro_f1": mean(classes[c]["f1"] for c in labels),
        "per_class": classes,
        "confusion": confusion,
    }


def majority(gold: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """The figures of always predicting the most frequent label of ``gold``."""
    top = max(labels, key=lambda label: sum(g == label for g in gold))
    return {"label": top, **classification(gold, [top] * len(gold), labels)}


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def f3(x: float | None) -> str:
    """Three decimals, or an en dash for a figure that does not exist."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def emit(markdown: str, *, out: Path | None, json_out: Path | None,
         payload: dict[str, Any]) -> None:
    """Print the report; write the markdown fragment and the JSON figures if asked."""
    print(markdown)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(markdown.rstrip("\n") + "\n", encoding="utf-8")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2
                                          | orjson.OPT_SERIALIZE_NUMPY))


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout stays the report."""
    print(message, file=sys.stderr, flush=True)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def write_section(path: Path, heading: str, text: str) -> None:
    """Replace (or append) the ``heading`` section of RESULTS.md, keeping every other one.

    ``text`` starts with ``heading``; a section runs to the next ``## `` heading.
    """
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start = old.find(heading)
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        following = old.find("\n## ", start + len(heading))
        new = old[:start] + text.rstrip("\n") + "\n" + (
            "\n" + old[following + 1:] if following != -1 else "")
    path.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (a service's workers sit under its forkserver)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found
