"""Ingest throughput: the whole python3-doc HTML, first build and unchanged rebuild.

    python bench/ingest.py                               # Debian's python3-doc
    python bench/ingest.py --jobs 2 --write bench/RESULTS.md
    python bench/ingest.py --source DIR --name NAME      # any other HTML folder

Reports pages/s and passages/s of the first (full) build, the same for a rebuild where no
page changed (every page reused by its content hash), the index size on disk and the size
of the page manifest kept beside it, and the largest extractor-process memory seen.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import benchkit  # bench/ is the script directory, first on sys.path
from docvouch.ingest.builder import IngestOptions, ingest_folder
from docvouch.ingest.progress import StreamReporter

PYTHON_DOCS = Path("/usr/share/doc/python3-doc/html")  # Debian policy location
SECTION = "## Ingest (issue 4)"


def run(source: Path, name: str, jobs: int, base_url: str) -> dict[str, dict]:
    results: dict[str, dict] = {"load": {"before": os.getloadavg()[0]}}
    with tempfile.TemporaryDirectory(prefix="docvouch-bench-") as scratch:
        home = Path(scratch)
        for label in ("first build", "unchanged rebuild"):
            options = IngestOptions(name=name, version="", base_url=base_url, jobs=jobs)
            started = time.perf_counter()
            summary = ingest_folder(home, source, options, reporter=StreamReporter(bar=False))
            summary["wall_s"] = time.perf_counter() - started
            results[label] = summary
    results["load"]["after"] = os.getloadavg()[0]
    results["children_maxrss_mib"] = {
        "value": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
    return results


def render(results: dict[str, dict], args: argparse.Namespace, command: str) -> str:
    first = results["first build"]
    lines = [
        SECTION, "",
        f"Command: `{command}` on {time.strftime('%Y-%m-%d')} ({benchkit.machine()}); load average "
        f"{results['load']['before']:.1f} before, {results['load']['after']:.1f} after (the "
        "machine is shared: other load slows every figure).",
        f"Source: `{args.source}` ({first['pages']:,} HTML pages after the default "
        "excludes: Sphinx `_sources`, `_static`, indexes and search pages); "
        f"{args.jobs or min(4, os.cpu_count() or 1)} extractor processes, each under "
        "RLIMIT_AS.", "",
        "| build | pages | extracted | reused | skipped | passages | symbols | seconds "
        "| pages/s | passages/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label in ("first build", "unchanged rebuild"):
        s = results[label]
        lines.append(
            f"| {label} | {s['pages']:,} | {s['extracted']:,} | {s['reused']:,} "
            f"| {len(s['skipped']):,} | {s['passages']:,} | {s['symbols']:,} "
            f"| {s['wall_s']:.1f} | {s['pages'] / s['wall_s']:.1f} "
            f"| {s['passages'] / s['wall_s']:,.0f} |")
    lines += [
        "",
        f"Index on disk: {first['index_bytes'] / 1e6:.1f} MB (BM25 matrix, passages, symbols); "
        f"page manifest beside it (hashes and extractions, for incremental rebuilds): "
        f"{first['manifest_bytes'] / 1e6:.1f} MB. Largest extractor process: "
        f"{results['children_maxrss_mib']['value']:.0f} MiB resident.",
        "",
        "Seconds are wall time of the whole build: reading and hashing, extraction, index "
        "build and the atomic publish. The unchanged rebuild re-reads and hashes every page "
        "and rebuilds the index, but extracts nothing.",
    ]
    if first["skipped"]:
        shown = "; ".join(f"`{s['key']}`: {s['reason']}" for s in first["skipped"][:5])
        lines += ["", f"Skipped pages: {shown}."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=PYTHON_DOCS)
    parser.add_argument("--name", default="python-docs")
    parser.add_argument("--base-url", default="https://docs.python.org/3/")
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--write", type=Path, help="update this RESULTS.md section")
    args = parser.parse_args()
    if not args.source.is_dir():
        print(f"{args.source} not found (apt-get install python3-doc)", file=sys.stderr)
        return 2
    command = "python bench/ingest.py" + (f" --jobs {args.jobs}" if args.jobs else "") + \
        (f" --write {args.write}" if args.write else "")
    section = render(run(args.source, args.name, args.jobs, args.base_url), args, command)
    print(section)
    if args.write:
        benchkit.write_section(args.write, SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
