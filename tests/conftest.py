"""Shared fixtures: one real default-corpus index, built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docvouch.engine import Engine
from docvouch.store import ensure_default_index


@pytest.fixture(scope="session")
def docvouch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DOCVOUCH_HOME holding the default corpus, built from this interpreter (~10 s)."""
    preset = os.environ.get("DOCVOUCH_TEST_HOME")
    home = Path(preset) if preset else tmp_path_factory.mktemp("docvouch-home")
    ensure_default_index(home)
    return home


@pytest.fixture(scope="session")
def default_index_dir(docvouch_home: Path) -> Path:
    return ensure_default_index(docvouch_home)


@pytest.fixture(scope="session")
def engine(default_index_dir: Path) -> Engine:
    return Engine.open(default_index_dir)
