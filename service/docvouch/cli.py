"""``docvouch``: check, search, corpus and serve from the terminal.

Argument parsing and output only; the work happens in ``engine``, ``store`` and ``ingest``.
Exit codes: 0 done, 1 ``check --fail-on`` matched, 2 bad input or usage, 3 index problem.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from docvouch import __version__, accel
from docvouch.errors import DocVouchError, IndexCorruptError, IndexError_
from docvouch.store import (
    DEFAULT_CORPUS,
    current_index,
    ensure_default_index,
    list_corpora,
    resolve_home,
)

EXIT_FAIL_ON, EXIT_INPUT, EXIT_INDEX = 1, 2, 3
MAX_TOP_K, MAX_CLAIMS = 50, 200  # the API's limits (validation.py), so both agree
MARKS = {"supported": "✓", "partial": "~", "unsupported": "·", "contradicted": "✗"}
LABELS = {"supported": "supported", "partial": "partial", "unsupported": "not in docs",
          "contradicted": "contradicted"}
COLOURS = {"supported": "32", "partial": "33", "unsupported": "90", "contradicted": "31"}


def _progress(line: str) -> None:
    print(f"docvouch: {line}", file=sys.stderr, flush=True)


def _open_engine(args: argparse.Namespace):
    from docvouch.engine import Engine

    home = resolve_home(args.home)
    corpus = getattr(args, "corpus", None) or DEFAULT_CORPUS
    if corpus == DEFAULT_CORPUS:
        directory = ensure_default_index(home, progress=_progress)
    else:
        directory = current_index(home, corpus)
    try:
        return Engine.open(directory)
    except IndexCorruptError:
        if corpus != DEFAULT_CORPUS:
            raise
        _progress("the default index is corrupt; rebuilding it")
        return Engine.open(ensure_default_index(home, progress=_progress, force=True))


def read_input(source: str) -> str:
    """The answer text from a file or ``-`` (stdin), strictly UTF-8 and not binary."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise InputProblem(f"cannot read {source}: {exc.strerror or exc}") from exc
    if b"\x00" in raw[:8192]:
        raise InputProblem(f"{'stdin' if source == '-' else source} looks binary (NUL bytes); "
                           "give a text or markdown answer")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputProblem(
            f"{'stdin' if source == '-' else source} is not valid UTF-8 "
            f"(byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from exc


class InputProblem(Exception):
    """Bad CLI input: printed on one line, exit code 2."""


def cmd_check(args: argparse.Namespace) -> int:
    text = read_input(args.file)
    engine = _open_engine(args)
    result = engine.verify(text, top_k=args.top_k, max_claims=args.max_claims)
    if args.format == "json":
        sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        print(render_text(result, text, colour=_use_colour()))
    if args.fail_on and any(c["verdict"] in args.fail_on for c in result["claims"]):
        return EXIT_FAIL_ON
    return 0


def _use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def render_text(result: dict[str, Any], text: str, *, colour: bool = False) -> str:
    """The human report of ``docvouch check``."""

    def paint(verdict: str, s: str) -> str:
        return f"\x1b[{COLOURS[verdict]}m{s}\x1b[0m" if colour else s

    summary = result["summary"]
    score = "–" if result["score"] is None else f"{result['score']}/100"
    corpus = result["corpus"]
    lines = [
        f"DocVouch {score} · {summary['claims']} claim{'' if summary['claims'] == 1 else 's'}: "
        f"{summary['supported']} supported · "
        f"{summary['partial']} partial · {summary['unsupported']} not in docs · "
        f"{summary['contradicted']} contradicted",
        f"  corpus {corpus['name']} {corpus['version']} ({corpus['passages']:,} passages), "
        f"{result['took_ms']} ms" + (" · claims truncated" if result.get("truncated") else ""),
    ]
    for claim in result["claims"]:
        verdict = claim["verdict"]
        line_no = text.count("\n", 0, claim["span"][0]) + 1
        head = paint(verdict, f"{MARKS[verdict]} {LABELS[verdict]:<12}")
        lines.append("")
        lines.append(f"{head} line {line_no:<4} {_one_line(claim['text'], 90)}")
        lines.append(f"    {claim['reason']}")
        if claim.get("suggestion"):
            lines.append(f"    did you mean: {claim['suggestion']}")
        if claim["evidence"]:
            ev = claim["evidence"][0]
            lines.append(f"    → {ev['url'].split(':~:')[0]}")
    if not result["claims"]:
        lines.append("")
        lines.append("no checkable claims in this text")
    return "\n".join(lines)


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def cmd_search(args: argparse.Namespace) -> int:
    engine = _open_engine(args)
    hits = engine.search(args.query, k=args.k)
    if args.format == "json":
        sys.stdout.buffer.write(orjson.dumps(hits, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    if not hits:
        print("no passage matches")
    for n, hit in enumerate(hits, 1):
        print(f"{n:>2}. {hit['bm25']:7.2f}  {_one_line(hit['title'], 80)}")
        print(f"             {hit['url']}")
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    home = resolve_home(args.home)
    if args.action == "list":
        corpora = list_corpora(home)
        if args.format == "json":
            sys.stdout.buffer.write(orjson.dumps(corpora, option=orjson.OPT_INDENT_2) + b"\n")
        elif not corpora:
            print(f"no corpus built yet under {home}; `docvouch corpus build python` makes one")
        for c in corpora:
            if "error" in c:
                print(f"{c['name']:<16} UNREADABLE: {c['error']}")
            else:
                print(f"{c['name']:<16} {c.get('version', ''):<8} {c['passages']:>9,} passages "
                      f"{c['symbols']:>9,} symbols  built {c['built_at']}")
        if args.format != "json":
            from docvouch.ingest_cli import pack_lines

            for line in pack_lines(home, {c["name"] for c in corpora}):
                print(line)
        return 0
    if args.action == "build":
        if args.name != DEFAULT_CORPUS:
            from docvouch.ingest_cli import build_pack

            build_pack(home, args.name)
        else:
            ensure_default_index(home, progress=_progress, force=True)
        args.corpus = args.name
    engine = _open_engine(args)
    info = engine.info()
    if args.format == "json":
        sys.stdout.buffer.write(orjson.dumps(info, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        for key, value in info.items():
            print(f"{key:<16} {value}")
        print(f"{'path':<16} {engine.index.directory}")
    return 0


def _bounded(low: int, high: int) -> Any:
    """An argparse type: an integer from ``low`` to ``high`` (the API's own limits)."""
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {raw!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value
    return parse


def _env_corpus() -> str:
    """DOCVOUCH_CORPUS, else the server's DOCVOUCH_DEFAULT_CORPUS, else the default corpus."""
    return (os.environ.get("DOCVOUCH_CORPUS") or os.environ.get("DOCVOUCH_DEFAULT_CORPUS")
            or DEFAULT_CORPUS)


def _verdicts(raw: str) -> list[str]:
    """``--fail-on contradicted,unsupported``: a comma-separated list of verdicts."""
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in LABELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"not a verdict: {', '.join(unknown) or repr(raw)} (choose from {', '.join(LABELS)})")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docvouch", description="Check AI chat answers against real documentation.")
    parser.add_argument("--version", action="version",
                        version=f"docvouch {__version__} (engine: {accel.state().label})")
    parser.add_argument("--home", help="where corpora live (env DOCVOUCH_HOME; default: the "
                        "user data directory)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="verify an answer (file or - for stdin)")
    check.add_argument("file", help="markdown/text file, or - for stdin")
    check.add_argument("--format", choices=("text", "json"), default="text",
                       help="text for people (default), json: the API's response body")
    check.add_argument("--corpus", default=_env_corpus(),
                       help="corpus to check against (env DOCVOUCH_CORPUS or "
                       f"DOCVOUCH_DEFAULT_CORPUS; default {DEFAULT_CORPUS!r}, the "
                       "interpreter's own docs)")
    check.add_argument("--top-k", type=_bounded(1, MAX_TOP_K), default=10,
                       help=f"passages retrieved per claim, 1-{MAX_TOP_K} (default 10)")
    check.add_argument("--max-claims", type=_bounded(1, MAX_CLAIMS), default=MAX_CLAIMS,
                       help=f"claims checked at most, 1-{MAX_CLAIMS}; the rest are left "
                       "out and the result says it was truncated")
    check.add_argument("--fail-on", type=_verdicts, action="extend", default=[],
                       metavar="VERDICTS",
                       help="exit 1 if any claim gets one of these verdicts, comma-separated "
                       f"({','.join(LABELS)}); may be repeated")
    check.set_defaults(func=cmd_check)

    search = sub.add_parser("search", help="ranked passages for a query")
    search.add_argument("query")
    search.add_argument("-k", type=_bounded(1, MAX_TOP_K), default=10,
                        help=f"passages to list, 1-{MAX_TOP_K} (default 10)")
    search.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for people (default), json: the API's response body")
    search.add_argument("--corpus", default=_env_corpus(),
                        help="corpus to search (env DOCVOUCH_CORPUS or "
                        f"DOCVOUCH_DEFAULT_CORPUS; default {DEFAULT_CORPUS!r})")
    search.set_defaults(func=cmd_search)

    corpus = sub.add_parser("corpus", help="list, inspect or build corpora")
    corpus.add_argument("action", choices=("list", "info", "build"),
                        help="list: every corpus and pack; info: one corpus's counts and "
                        "path; build: (re)build the default corpus or a pack now")
    corpus.add_argument("name", nargs="?", default=DEFAULT_CORPUS,
                        help=f"the corpus or pack for info and build (default "
                        f"{DEFAULT_CORPUS!r})")
    corpus.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for people (default), or json")
    corpus.set_defaults(func=cmd_corpus, corpus=None)

    try:
        from docvouch import serve_cli
    except ImportError:  # the HTTP service is optional for the CLI
        serve_cli = None
    if serve_cli is not None:
        serve_cli.register(sub)
    from docvouch import accel_cli, ingest_cli

    ingest_cli.register(sub)
    accel_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    args = build_parser().parse_args(argv)
    if getattr(args, "action", None) == "info":
        args.corpus = args.name
    try:
        return int(args.func(args) or 0)
    except InputProblem as exc:
        print(f"docvouch: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except IndexError_ as exc:
        print(f"docvouch: {exc.detail}", file=sys.stderr)
        return EXIT_INDEX
    except DocVouchError as exc:
        print(f"docvouch: {exc.detail}", file=sys.stderr)
        return EXIT_INPUT if exc.status < 500 else EXIT_INDEX
    except BrokenPipeError:  # `docvouch search ... | head`: the reader has what it wanted
        # stdout's buffer would fail again at exit; point it at nothing first
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # disk full, permission denied: the old index is untouched
        where = f" ({exc.filename})" if exc.filename else ""
        # numpy reports a full disk as a short write with no errno
        full = exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, None)
        hint = " — is the disk full?" if full else ""
        print(f"docvouch: cannot write: {exc.strerror or exc}{where}{hint}; "
              "nothing was published, the previous index still serves", file=sys.stderr)
        return EXIT_INDEX
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
