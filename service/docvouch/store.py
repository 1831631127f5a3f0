"""Where corpora live on disk, and how a new build is published without a torn read.

::

    $DOCVOUCH_HOME/indexes/<corpus>/
        builds/<build-id>/     complete index directories (see index.py)
        builds/.tmp-<id>/      a build in progress; never read
        current -> builds/<build-id>   swapped with one atomic rename
        .lock                  held while building, so concurrent starts build once

A reader resolves ``current`` once and keeps using that directory; the previous build is
kept until the next publish, so a server that has not reloaded yet still has its files.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import platformdirs

from docvouch.errors import CorpusBuildError, IndexCorruptError, IndexMissingError

DEFAULT_CORPUS = "python"
KEEP_BUILDS = 2
_BUILD_COUNTER = itertools.count()
Progress = Callable[[str], None]


def _read_manifest(directory: Path) -> dict[str, Any]:
    # index.py (numpy, scipy, bm25s: ~0.45 s) is imported on first use, not with this
    # module: the CLI imports it, and `docvouch serve` must catch stop signals at once.
    from docvouch.index import read_manifest

    return read_manifest(directory)


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else ``$DOCVOUCH_HOME``, else the platform's user data directory."""
    raw = explicit or os.environ.get("DOCVOUCH_HOME") or platformdirs.user_data_dir("docvouch")
    return Path(raw).expanduser()


def corpus_root(home: Path, name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"invalid corpus name {name!r}")
    return home / "indexes" / name


def current_index(home: Path, name: str) -> Path:
    """The published index directory of corpus ``name``; IndexMissingError if none."""
    link = corpus_root(home, name) / "current"
    if not link.exists():
        raise IndexMissingError(f"corpus {name!r} has no index under {home}; build it first")
    return link.resolve()


def list_corpora(home: Path) -> list[dict[str, Any]]:
    """Every published corpus with its manifest summary (unreadable ones flagged)."""
    root = home / "indexes"
    out = []
    for entry in sorted(root.iterdir()) if root.is_dir() else ():
        if not (entry / "current").exists():
            continue
        try:
            manifest = _read_manifest((entry / "current").resolve())
            out.append({"name": entry.name, **manifest["corpus"], **manifest["counts"],
                        "built_at": manifest["built_at"], "path": str(entry / "current")})
        except (IndexCorruptError, IndexMissingError) as exc:
            out.append({"name": entry.name, "error": exc.detail})
    return out


@contextlib.contextmanager
def build_lock(home: Path, name: str) -> Iterator[None]:
    """An exclusive lock on building corpus ``name`` (blocks until free)."""
    root = corpus_root(home, name)
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def publish(home: Path, name: str, build: Callable[[Path], Any]) -> Path:
    """Run ``build(tmp_dir)`` and atomically make the result corpus ``name``'s current index.

    If ``build`` raises, nothing is published and the previous index keeps serving.
    """
    builds = corpus_root(home, name) / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    # pid + a per-process counter: two builds in one second (a re-ingest) get distinct ids
    build_id = (time.strftime("%Y%m%dT%H%M%S", time.gmtime())
                + f"-{os.getpid()}-{next(_BUILD_COUNTER):04d}")
    tmp = builds / f".tmp-{build_id}"
    try:
        build(tmp)
        final = builds / build_id
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    link = corpus_root(home, name) / "current"
    tmp_link = link.with_name(f".current-{build_id}")
    os.symlink(Path("builds") / build_id, tmp_link)
    os.replace(tmp_link, link)
    _fsync_dir(link.parent)
    _prune(builds, keep=final)
    return final


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(builds: Path, *, keep: Path) -> None:
    done = sorted((p for p in builds.iterdir() if not p.name.startswith(".")),
                  key=lambda p: p.name, reverse=True)
    for old in done[KEEP_BUILDS:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    for stale in builds.glob(".tmp-*"):  # a crashed build's leftovers
        if stale.stat().st_mtime < time.time() - 3600:
            shutil.rmtree(stale, ignore_errors=True)


def python_version() -> str:
    """The language version the default corpus documents, e.g. ``"3.11"``."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def python_release() -> str:
    """The interpreter's release, e.g. ``"3.11.7"``: bugfix releases change docstrings."""
    return ".".join(map(str, sys.version_info[:3]))


def default_index_is_fresh(home: Path) -> bool:
    """True if the default corpus exists, reads, and was built by this interpreter release.

    Two 3.11 interpreters sharing one home (a distribution's and a source build, say) do
    not share an index: a bugfix release can add or change docstrings, and the corpus is
    those docstrings.
    """
    try:
        manifest = _read_manifest(current_index(home, DEFAULT_CORPUS))
    except (IndexMissingError, IndexCorruptError):
        return False
    from docvouch.ingest.stdlib import BUILDER_VERSION

    corpus = manifest["corpus"]
    return (corpus.get("version") == python_version()
            and corpus.get("interpreter") == python_release()
            and corpus.get("builder") == BUILDER_VERSION)


def ensure_default_index(home: Path, *, progress: Progress | None = None,
                         force: bool = False) -> Path:
    """The default corpus's index, built first if missing, stale or ``force``."""
    if not force and default_index_is_fresh(home):
        return current_index(home, DEFAULT_CORPUS)
    with build_lock(home, DEFAULT_CORPUS):
        if not force and default_index_is_fresh(home):  # another process built it meanwhile
            return current_index(home, DEFAULT_CORPUS)
        say = progress or (lambda _line: None)
        say(f"building the default corpus from Python {python_release()}'s own documentation "
            "(first run, or after a Python or DocVouch upgrade)")
        return publish(home, DEFAULT_CORPUS, lambda tmp: build_stdlib_index(tmp, progress=say))


def build_stdlib_index(directory: Path, *, progress: Progress) -> dict[str, Any]:
    """Introspect the stdlib in a child process, then index what it found."""
    from docvouch.ingest.stdlib import BUILDER_VERSION, read_records

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="docvouch-") as scratch:
        records = Path(scratch) / "records.jsonl"
        _run_introspection(records, progress)
        passages, symbols, skipped = read_records(records)
    progress(f"indexing {len(passages):,} passages and {len(symbols):,} symbols")
    from docvouch.index import build_index

    manifest = build_index(
        directory, passages, symbols,
        corpus={"name": DEFAULT_CORPUS, "version": python_version(),
                "interpreter": python_release(),
                "title": f"Python {python_version()} standard library (introspected)",
                "source": "interpreter", "skipped_modules": len(skipped),
                "builder": BUILDER_VERSION},
        progress=progress,
    )
    progress(f"default corpus ready: {len(passages):,} passages in "
             f"{time.perf_counter() - started:.1f}s")
    return manifest


def _run_introspection(records: Path, progress: Progress) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "DISPLAY": ""}
    tail: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "docvouch.ingest.stdlib", str(records)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=env, start_new_session=True,
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip()
            if line.startswith("introspect"):
                progress(line)
            else:
                tail = [*tail, line][-5:]
    if proc.wait() != 0:
        raise CorpusBuildError("introspecting the standard library failed: "
                               + (" | ".join(tail) or f"exit {proc.returncode}"))
