"""Helpers shared by the ingest tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DOC_ROOT = Path("/usr/share/doc")  # Debian policy: where documentation packages install
PYTHON_DOCS = DOC_ROOT / "python3-doc" / "html"
PYTHON_DOCS_PAGES = ("library/stdtypes.html", "library/statistics.html",
                     "library/os.path.html", "library/json.html")
CORPUS = "python-docs-subset"


def require(path: Path, package: str) -> Path:
    """The folder a Debian doc package installs, or a skip naming the package to install."""
    if not path.is_dir():
        if os.environ.get("CI"):  # CI installs them: a missing one is a broken install step
            pytest.fail(f"{package} is missing in CI: scripts/install-test-deps should install it")
        pytest.skip(f"{package} is not installed (scripts/install-test-deps installs it)")
    return path
