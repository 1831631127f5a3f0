"""Fixtures for the ingest tests: real documentation from Debian's doc packages.

``python3-doc`` is installed by ``scripts/install-test-deps`` (CI runs it); a subset of its
pages is ingested once per session into a home of its own, so that the tests check real
Sphinx output (anchors, signatures, version notes) at a fraction of the full ingest's cost.
The full ingest runs in ``bench/ingest.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_support import CORPUS, PYTHON_DOCS, PYTHON_DOCS_PAGES, require

from docvouch.engine import Engine
from docvouch.ingest.builder import IngestOptions, ingest_folder
from docvouch.store import current_index


@pytest.fixture(scope="session")
def python_docs() -> Path:
    return require(PYTHON_DOCS, "python3-doc")


@pytest.fixture(scope="session")
def pydocs_home(python_docs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding ``python-docs-subset``: four python3-doc pages, linked to docs.python.org."""
    home = tmp_path_factory.mktemp("pydocs-home")
    options = IngestOptions(name=CORPUS, version="3.11", include=PYTHON_DOCS_PAGES,
                            base_url="https://docs.python.org/3.11/", jobs=2)
    ingest_folder(home, python_docs, options)
    return home


@pytest.fixture(scope="session")
def pydocs_engine(pydocs_home: Path) -> Engine:
    return Engine.open(current_index(pydocs_home, CORPUS))
