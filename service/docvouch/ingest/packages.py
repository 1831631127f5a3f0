"""An installed Python package's API, by introspection, as a corpus.

The default corpus's walker (``python_api.ApiWalker``) generalised to any distribution:
its top-level modules (from the distribution's metadata), their public submodules, classes,
functions, methods and constants, each a passage with its signature and docstring and a
symbol with the keywords it accepts. Importing a package runs its code, so the walk happens
in a child process (``python -m docvouch.ingest.packages``) that writes records the parent
indexes; a package that fails to import is reported, module by module.

Links: ``--base-url`` (for example the package's API page) + ``#<qualified name>``, which is
the anchor Sphinx autodoc gives every object; without it the documentation or home page URL
from the package's metadata.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docvouch.errors import CorpusBuildError, InputError
from docvouch.index import build_index
from docvouch.ingest.progress import Reporter
from docvouch.store import build_lock, publish

SKIP_PARTS = frozenset({"tests", "test", "testing_utils", "conftest", "_vendor", "vendor",
                        "__main__", "setup"})


def distribution_info(name: str) -> dict[str, Any]:
    """Version, top-level modules and documentation URL of an installed distribution."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError as exc:
        raise InputError(f"no installed Python package {name!r} in this interpreter "
                         f"({sys.executable}); install it first") from exc
    modules = _top_level(dist)
    if not modules:
        raise InputError(f"package {name!r} has no importable top-level module")
    meta = dist.metadata
    urls = [u.split(",", 1) for u in (meta.get_all("Project-URL") or [])]
    docs = next((u.strip() for label, u in urls if "doc" in label.lower()), "")
    home = meta.get("Home-page") or next((u.strip() for _, u in urls), "")
    return {"name": meta.get("Name") or name, "version": dist.version, "modules": modules,
            "docs_url": docs or home or "", "summary": meta.get("Summary") or "",
            "licence": meta.get("License-Expression") or meta.get("License") or ""}


def _top_level(dist: metadata.Distribution) -> list[str]:
    listed = (dist.read_text("top_level.txt") or "").split()
    if not listed:
        found = set()
        for file in dist.files or ():
            parts = file.parts
            if len(parts) > 1 and not parts[0].endswith((".dist-info", ".egg-info", ".data")):
                found.add(parts[0])
            elif len(parts) == 1 and file.name.endswith(".py"):
                found.add(file.name[:-3])
        listed = sorted(found)
    return [m for m in listed if m.isidentifier() and not m.startswith("_")
            and m not in SKIP_PARTS]


def collect_package(name: str, *, corpus: str, base_url: str, progress: Any = None) -> Any:
    """Introspect a distribution's modules (call this only in a child process)."""
    from docvouch.ingest.python_api import (
        ApiCollection,
        ApiWalker,
        import_quietly,
        public_submodules,
    )

    info = distribution_info(name)
    root = base_url or info["docs_url"]

    def url_for(_module: str, qualified: str) -> str:
        return f"{root}#{qualified}" if root else ""

    out = ApiCollection()
    walker = ApiWalker(out, corpus=corpus, version=info["version"], url_for=url_for)
    for top in info["modules"]:
        try:
            package = import_quietly(top)
        except BaseException as exc:  # a package's import may raise anything, even SystemExit
            out.skipped.append((top, f"{type(exc).__name__}: {exc}"[:200]))
            continue
        for module_name in [top, *public_submodules(package, skip=SKIP_PARTS)]:
            try:
                module = import_quietly(module_name)
            except BaseException as exc:
                out.skipped.append((module_name, f"{type(exc).__name__}: {exc}"[:200]))
                continue
            walker.walk_module(module, module_name)
            if progress:
                progress(f"introspected {module_name} ({len(out.passages)} passages)")
    return out


def ingest_package(home: Path, name: str, *, corpus: str = "", base_url: str = "",
                   reporter: Reporter | None = None) -> dict[str, Any]:
    """Build and publish corpus ``corpus`` (default: the package name) from an installed package."""
    from docvouch.ingest.stdlib import read_records

    reporter = reporter or Reporter()
    info = distribution_info(name)  # fail early, in the parent, for an unknown package
    corpus = corpus or info["name"].lower().replace("_", "-")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="docvouch-pkg-") as scratch:
        records = Path(scratch) / "records.jsonl"
        _run_child(records, name, corpus, base_url, reporter)
        passages, symbols, skipped = read_records(records)
    if not passages:
        raise CorpusBuildError(f"nothing documented found in package {name!r}")
    meta = {"name": corpus, "version": info["version"],
            "title": f"{info['name']} {info['version']} (introspected)",
            "source": f"python-package:{info['name']}", "kind": "python-package",
            "base_url": base_url or info["docs_url"], "licence": info["licence"],
            "pages": len(info["modules"]), "skipped_pages": len(skipped)}
    reporter.message(f"indexing {len(passages):,} passages and {len(symbols):,} symbols")
    with build_lock(home, corpus):
        final = publish(home, corpus, lambda tmp: build_index(
            tmp, passages, symbols, corpus=meta, progress=reporter.message))
    return {"name": corpus, "version": info["version"], "pages": len(info["modules"]),
            "extracted": len(info["modules"]), "reused": 0, "removed": 0,
            "skipped": [{"key": s["module"], "reason": s["reason"]} for s in skipped],
            "passages": len(passages), "symbols": len(symbols), "full_reason": "",
            "seconds": round(time.perf_counter() - started, 2),
            "index_bytes": sum(p.stat().st_size for p in final.rglob("*") if p.is_file()),
            "path": str(final)}


def _run_child(records: Path, name: str, corpus: str, base_url: str,
               reporter: Reporter) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "DISPLAY": ""}
    tail: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "docvouch.ingest.packages", str(records), name, corpus,
         base_url], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip()
            if line.startswith("introspected"):
                reporter.message(line)
            else:
                tail = [*tail, line][-5:]
    if proc.returncode != 0:
        raise CorpusBuildError(f"introspecting package {name!r} failed: "
                               + (" | ".join(tail) or f"exit {proc.returncode}"))


def main(argv: list[str] | None = None) -> int:
    """Child entry: ``python -m docvouch.ingest.packages OUT.jsonl DIST CORPUS BASE_URL``."""
    from docvouch.ingest.stdlib import write_records

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        print("usage: python -m docvouch.ingest.packages OUT.jsonl DIST CORPUS BASE_URL",
              file=sys.stderr)
        return 2
    real_stderr = sys.stderr

    def progress(line: str) -> None:
        print(line, file=real_stderr, flush=True)

    collection = collect_package(args[1], corpus=args[2], base_url=args[3], progress=progress)
    write_records(collection, Path(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
