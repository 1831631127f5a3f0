"""An installed Python package's API by introspection, in a child process."""

from __future__ import annotations

from pathlib import Path

import pytest

from docvouch.engine import Engine
from docvouch.errors import InputError
from docvouch.ingest.packages import distribution_info, ingest_package
from docvouch.store import current_index


def test_installed_package_becomes_a_corpus_with_signatures(tmp_path: Path) -> None:
    summary = ingest_package(tmp_path, "platformdirs",
                             base_url="https://platformdirs.example/api.html")
    assert summary["name"] == "platformdirs" and summary["symbols"] > 50
    engine = Engine.open(current_index(tmp_path, "platformdirs"))
    symbol = next(s for s in engine.index.symbols if s.name == "platformdirs.user_data_dir")
    assert "appname" in (symbol.params or [])
    assert engine.index.passage(symbol.passage).url == \
        "https://platformdirs.example/api.html#platformdirs.user_data_dir"
    claim = engine.verify("Call `platformdirs.user_data_dir(app_name='x')`.")["claims"][0]
    assert claim["verdict"] == "contradicted" and claim.get("suggestion") == "appname"
    assert engine.info()["version"] == distribution_info("platformdirs")["version"]


def test_an_unknown_package_is_a_clear_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no installed Python package"):
        ingest_package(tmp_path, "surely-not-an-installed-package")
