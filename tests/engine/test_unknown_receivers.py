"""Calls on receivers the corpus cannot type: an invented method is caught, a library the
corpus does not cover is silence, never a contradiction."""

from __future__ import annotations

from pathlib import Path

import pytest

from docvouch.engine import Engine
from docvouch.ingest.builder import IngestOptions, ingest_folder
from docvouch.store import current_index


def verdict_of(engine: Engine, text: str) -> tuple[str, str]:
    claim = engine.verify(text)["claims"][0]
    return claim["verdict"], claim["reason"]


@pytest.mark.parametrize("call", [
    "np.linspace(0, 1, 5)",  # a library's conventional alias, not imported
    "df.groupby(\"region\")",
    "torch.nn.Linear(4, 2)",  # a dotted path whose head the corpus lacks
    "boto3.session.Session()",
])
def test_a_library_outside_the_corpus_is_not_contradicted(engine: Engine, call: str) -> None:
    verdict, reason = verdict_of(engine, f"Then call `{call}` to get the values you need.")
    assert verdict != "contradicted", reason


def test_an_invented_method_on_an_untyped_receiver_is_still_caught(engine: Engine) -> None:
    verdict, reason = verdict_of(engine, "Check the line with `line.contains(\"x\")` first.")
    assert verdict == "contradicted"
    assert "contains" in reason


def test_a_corpus_without_classes_contradicts_no_method(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "widget.md").write_text(
        "# widget.spin(speed, *, clockwise=True)\n\nSpins the widget at `speed` turns a "
        "second, clockwise unless told otherwise.\n")
    home = tmp_path / "home"
    ingest_folder(home, docs, IngestOptions(name="handbook", jobs=1))
    engine = Engine.open(current_index(home, "handbook"))
    assert len(engine.symbols.methods) == 0
    verdict, reason = verdict_of(engine, "Spin the widget with `widget.spin(3)` for speed.")
    assert verdict != "contradicted", reason
