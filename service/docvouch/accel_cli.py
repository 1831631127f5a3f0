"""``docvouch accel``: compile the engine's hot modules with mypyc, or say how it runs.

::

    docvouch accel build              # compile (a no-op while the build is fresh)
    docvouch accel build --if-possible   # when it cannot, say why and exit 0
    docvouch accel status             # compiled or Python, and why

Exit codes: 0 done (or compiled, for status), 1 status: running as Python, 2 the build failed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from docvouch import accel


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``accel`` subcommand to the ``docvouch`` argument parser."""
    parser = subparsers.add_parser(
        "accel", help="compile the engine with mypyc (about a tenth less CPU an answer), or "
                      "show status",
        description="The engine's per-answer modules compiled to C with mypyc. The build is "
                    "used only while every source matches it; an edited module runs as "
                    f"Python until the next build. {accel.ENV_SWITCH}=0 turns it off.")
    parser.add_argument("action", choices=("build", "status"),
                        help="build: compile now (needs mypy, a C compiler and the Python "
                        "headers); status: how this interpreter runs the engine")
    parser.add_argument("--force", action="store_true", help="rebuild even when fresh")
    parser.add_argument("--if-possible", action="store_true",
                        help="when the build cannot be made, say why and exit 0 (the "
                        "engine then runs as Python)")
    parser.set_defaults(func=cmd_accel)
    return parser


def _progress(line: str) -> None:
    print(f"docvouch: {line}", file=sys.stderr, flush=True)


def cmd_accel(args: argparse.Namespace) -> int:
    if args.action == "status":
        running = accel.state()
        print(f"engine: {running.label} ({running.reason})")
        # this process may have been started with DOCVOUCH_ACCEL=0: report the build too
        if not running.active and accel.check_build(accel.accel_dir()).active:
            print(f"build: fresh in {accel.accel_dir()}")
        return 0 if running.active else 1
    try:
        accel.build(force=args.force, progress=_progress)
    except accel.AccelError as exc:
        if args.if_possible:
            _progress(f"the engine runs as Python: {exc}")
            return 0
        _progress(f"accel build failed: {exc}")
        return 2
    return 0
