#!/usr/bin/env python3
"""Print deploy/constraints.txt: the installed versions of docvouch's runtime dependencies.

Run it in the environment the test suite has just passed in:

    python deploy/constraints.py > deploy/constraints.txt
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HEADER = """\
# Versions of DocVouch's runtime dependencies that the test suite passed with (Python 3.11).
# deploy/Dockerfile installs with `pip install -c deploy/constraints.txt`, so an image built
# later gets the same libraries; each has a binary wheel for manylinux x86_64 and Python
# 3.11, so the build needs no compiler. Regenerate after an upgrade, once the tests pass:
#   python deploy/constraints.py > deploy/constraints.txt
"""


def closure(root: str = "docvouch") -> dict[str, str]:
    """Every distribution ``root`` needs at run time (no extras), with its installed version."""
    found: dict[str, str] = {}
    todo = [root]
    while todo:
        for raw in distribution(todo.pop()).requires or []:
            requirement = Requirement(raw)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(requirement.name)
            if name in found:
                continue
            try:
                found[name] = distribution(name).version
            except PackageNotFoundError:
                continue  # needed on another platform only
            todo.append(name)
    return dict(sorted(found.items()))


def main() -> int:
    sys.stdout.write(HEADER + "".join(f"{n}=={v}\n" for n, v in closure().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
