"""The default corpus: the running interpreter's own standard library documentation.

Walks every importable public stdlib module (``sys.stdlib_module_names`` and their public
submodules), the builtins, and the language-reference topics of ``pydoc_data``. Each
passage links to ``https://docs.python.org/<major.minor>/...#<anchor>``.

Run as ``python -m docvouch.ingest.stdlib OUT.jsonl``: importing 300 modules has side
effects (some print, some start threads), so the parent process never does it itself.
"""

from __future__ import annotations

import builtins
import json
import re
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import orjson

from docvouch.ingest.python_api import (
    ApiCollection,
    ApiWalker,
    import_quietly,
    public_submodules,
    version_notes,
)
from docvouch.passages import Passage, Symbol

PY_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
DOCS_ROOT = f"https://docs.python.org/{PY_VERSION}/"
CORPUS_NAME = "python"
# Bumped whenever what introspection records changes: a default corpus built by another
# builder version is rebuilt on next use.
BUILDER_VERSION = 7

# `**kwargs` that the standard library passes on to a callable its docstring does not name:
# the keywords accepted are that callable's (read from its signature when the index is built),
# plus any given outright as "=name".
_LOG_METHODS = ("debug", "info", "warning", "warn", "error", "exception", "critical", "fatal",
                "log")
STDLIB_FORWARDS: dict[str, tuple[str, ...]] = {
    **{f"logging.Logger.{m}": ("logging.Logger._log",) for m in _LOG_METHODS},
    **{f"logging.LoggerAdapter.{m}": ("logging.Logger._log",) for m in _LOG_METHODS},
    **{f"logging.{m}": ("logging.Logger._log",) for m in _LOG_METHODS},
    # `action` picks the Action class, `version` is read by action="version"
    "argparse.ArgumentParser.add_argument": ("argparse.Action", "=action", "=version"),
    "subprocess.call": ("subprocess.Popen",),
    "subprocess.check_call": ("subprocess.Popen", "subprocess.call"),  # call adds timeout
}

# Modules whose import does something visible (opens a browser, prints, needs a GUI loop),
# is platform-specific, deprecated tooling, or test-suite scaffolding.
SKIP_MODULES = frozenset({
    "antigravity", "this", "idlelib", "test", "tests", "turtledemo", "lib2to3", "ensurepip",
    "pydoc_data", "msilib", "msvcrt", "winreg", "winsound", "nt", "distutils", "tkinter.tix",
    "__main__", "builtins", "sre_compile", "sre_constants", "sre_parse",
    # os.path under its implementation names; documented once, as os.path
    "posixpath", "ntpath", "genericpath", "macpath",
})
BUILTIN_TYPES = frozenset({
    "str", "bytes", "bytearray", "int", "float", "complex", "bool", "list", "tuple", "dict",
    "set", "frozenset", "range", "memoryview", "object", "type", "slice",
})

Progress = Callable[[str], None]


def _library_pages() -> set[str]:
    raw = resources.files("docvouch.ingest").joinpath("library_pages.json").read_text()
    return set(json.loads(raw))


def _topic_pages() -> dict[str, str]:
    raw = resources.files("docvouch.ingest").joinpath("topic_pages.json").read_text()
    return json.loads(raw)


def make_url_for(pages: set[str]) -> Callable[[str, str], str]:
    """URL of a documented object: the deepest module with its own page, anchored."""

    def url_for(module: str, qualified: str) -> str:
        if module == "builtins":
            return _builtin_url(qualified)
        page = module
        while page not in pages and "." in page:
            page = page.rsplit(".", 1)[0]
        return f"{DOCS_ROOT}library/{page}.html#{_anchor(module, qualified)}"

    return url_for


def _anchor(module: str, qualified: str) -> str:
    return f"module-{module}" if qualified == module else qualified


def _builtin_url(qualified: str) -> str:
    head = qualified.split(".", 1)[0]
    if head == "builtins":
        return f"{DOCS_ROOT}library/functions.html"
    if head in BUILTIN_TYPES and head not in ("object", "type", "slice"):
        return f"{DOCS_ROOT}library/stdtypes.html#{qualified}"
    obj = getattr(builtins, head, None)
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return f"{DOCS_ROOT}library/exceptions.html#{qualified}"
    if head in ("True", "False", "None", "Ellipsis", "NotImplemented"):
        return f"{DOCS_ROOT}library/constants.html#{head}"
    return f"{DOCS_ROOT}library/functions.html#{qualified}"


def stdlib_module_names() -> list[str]:
    """Public top-level stdlib modules of this interpreter, minus the ones we never import."""
    return sorted(
        name for name in sys.stdlib_module_names
        if not name.startswith("_") and name not in SKIP_MODULES
    )


def collect(progress: Progress | None = None) -> ApiCollection:
    """Introspect the whole standard library into passages and symbols."""
    out = ApiCollection()
    walker = ApiWalker(out, corpus=CORPUS_NAME, version=PY_VERSION,
                       url_for=make_url_for(_library_pages()), forwards=STDLIB_FORWARDS)
    walker.walk_module(builtins, "builtins", bare_names=True)
    names = stdlib_module_names()
    for i, top in enumerate(names, 1):
        if progress and (i % 20 == 0 or i == len(names)):
            progress(f"introspecting modules {i}/{len(names)} ({len(out.passages)} passages)")
        for name in _with_submodules(top, out):
            try:
                module = import_quietly(name)
            except BaseException as exc:
                out.skipped.append((name, f"{type(exc).__name__}: {exc}"[:200]))
                continue
            walker.walk_module(module, name)
            if name == "os":  # os.path is posixpath/ntpath; people write os.path.*
                walker.walk_module(module.path, "os.path")
    add_language_topics(out)
    return out


def _with_submodules(top: str, out: ApiCollection) -> list[str]:
    try:
        package = import_quietly(top)
    except BaseException:
        return [top]
    return [top, *public_submodules(package, skip=SKIP_MODULES)]


_HEADING_RE = re.compile(r"^(.+)\n([*=\-~^]{3,})$", re.MULTILINE)


def add_language_topics(out: ApiCollection) -> None:
    """The language reference topics (``pydoc_data``), one passage per section."""
    from pydoc_data.topics import topics

    pages = _topic_pages()
    for label, text in sorted(topics.items()):
        page = pages.get(label, "reference/index.html")
        url = f"{DOCS_ROOT}{page}#{label}"
        for n, (title, body) in enumerate(_split_sections(text, label)):
            out.add(
                Passage(
                    id=f"{CORPUS_NAME}:topic:{label}:{n}", url=url, title=title, text=body,
                    heading_path=["Language reference", title], source=CORPUS_NAME,
                    version=PY_VERSION, version_notes=version_notes(body),
                ),
                None,
            )


def _split_sections(text: str, label: str, *, max_chars: int = 1800) -> list[tuple[str, str]]:
    """Split a topic at its underlined headings, then long sections at paragraph breaks."""
    sections: list[tuple[str, str]] = []
    title, start = label, 0
    for match in _HEADING_RE.finditer(text):
        if len(match.group(2)) >= len(match.group(1).rstrip()) - 1:
            sections.append((title, text[start:match.start()]))
            title, start = match.group(1).strip(), match.end()
    sections.append((title, text[start:]))
    out: list[tuple[str, str]] = []
    for sec_title, body in sections:
        chunk = ""
        for para in re.split(r"\n\s*\n", body):
            if chunk and len(chunk) + len(para) > max_chars:
                out.append((sec_title, chunk.strip()))
                chunk = ""
            chunk += para + "\n\n"
        if chunk.strip():
            out.append((sec_title, chunk.strip()))
    return out


def write_records(out: ApiCollection, path: Path) -> None:
    """One JSON object per line: {"passage": ...} or {"symbol": ...}, then {"skipped": ...}."""
    with path.open("wb") as fh:
        for passage in out.passages:
            fh.write(orjson.dumps({"passage": passage}) + b"\n")
        for symbol in out.symbols:
            fh.write(orjson.dumps({"symbol": symbol}) + b"\n")
        for module, reason in out.skipped:
            fh.write(orjson.dumps({"skipped": {"module": module, "reason": reason}}) + b"\n")


def read_records(path: Path) -> tuple[list[Passage], list[Symbol], list[dict]]:
    """Inverse of :func:`write_records`."""
    passages: list[Passage] = []
    symbols: list[Symbol] = []
    skipped: list[dict] = []
    with path.open("rb") as fh:
        for line in fh:
            record = orjson.loads(line)
            if "passage" in record:
                passages.append(Passage.from_dict(record["passage"]))
            elif "symbol" in record:
                symbols.append(Symbol.from_dict(record["symbol"]))
            else:
                skipped.append(record["skipped"])
    return passages, symbols, skipped


def main(argv: list[str] | None = None) -> int:
    """Child-process entry point: introspect and write records to ``argv[0]``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m docvouch.ingest.stdlib OUT.jsonl", file=sys.stderr)
        return 2
    real_stderr = sys.stderr
    started = time.perf_counter()

    def progress(line: str) -> None:
        print(line, file=real_stderr, flush=True)

    collection = collect(progress)
    write_records(collection, Path(args[0]))
    progress(f"introspected {len(collection.passages)} passages, {len(collection.symbols)} "
             f"symbols in {time.perf_counter() - started:.1f}s "
             f"({len(collection.skipped)} modules skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
