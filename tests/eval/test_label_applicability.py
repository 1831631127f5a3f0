"""Labels whose evidence came in a later bugfix release: listed, left out, never hidden."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSWER = "a27_asyncio_taskgroup"
QUOTE = "All tasks are awaited when the `async with` block exits"
HERE = ".".join(map(str, sys.version_info[:3]))
LATER = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro + 1}"


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def check_labels() -> Any:
    return _load("docvouch_check_labels_test", ROOT / "bench" / "labelled" / "check_labels.py")


def _label(evidence_text: str, **extra: str) -> dict[str, Any]:
    return {"answer": ANSWER, "split": "test", "target": {"quote": QUOTE},
            "kind": "true_statement", "expect": "supported_or_partial", "note": "test",
            "evidence": {"doc": "json.dumps", "text": evidence_text}, **extra}


def _problems(check_labels: Any, label: dict[str, Any]) -> list[str]:
    texts = {ANSWER: (ROOT / "bench" / "labelled" / "answers" / f"{ANSWER}.md").read_text()}
    problems: list[str] = []
    check_labels.check_label(1, label, texts, problems)
    return problems


def test_missing_evidence_is_a_problem_without_evidence_since(check_labels: Any) -> None:
    label = _label("a passage no docstring has")
    assert check_labels.applies_here(label)
    assert any("evidence text not in docs" in p for p in _problems(check_labels, label))


def test_evidence_from_a_later_release_makes_the_label_not_apply(check_labels: Any) -> None:
    label = _label("a passage no docstring has", evidence_since=LATER)
    assert not check_labels.applies_here(label)
    assert _problems(check_labels, label) == []


def test_evidence_since_this_release_must_be_there(check_labels: Any) -> None:
    label = _label("a passage no docstring has", evidence_since=HERE)
    assert check_labels.applies_here(label)
    assert any("evidence text not in docs" in p for p in _problems(check_labels, label))


def test_evidence_present_in_an_older_interpreter_still_applies(check_labels: Any) -> None:
    label = _label("Serialize ``obj`` to a JSON formatted ``str``.", evidence_since=LATER)
    assert check_labels.applies_here(label)
    assert _problems(check_labels, label) == []


def test_a_malformed_release_is_a_problem(check_labels: Any) -> None:
    label = _label("Serialize ``obj`` to a JSON formatted ``str``.", evidence_since="3.11")
    assert any("evidence_since" in p for p in _problems(check_labels, label))


def test_eval_leaves_out_what_does_not_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    bench_eval = _load("docvouch_bench_eval_test", ROOT / "bench" / "eval.py")
    shutil.copy(ROOT / "bench" / "labelled" / "check_labels.py", tmp_path / "check_labels.py")
    applies = _label("Serialize ``obj`` to a JSON formatted ``str``.", evidence_since=LATER)
    later = _label("a passage no docstring has", evidence_since=LATER)
    other_split = {**later, "split": "dev"}
    (tmp_path / "labels.jsonl").write_bytes(
        b"\n".join(orjson.dumps(lab) for lab in (applies, later, other_split)) + b"\n")
    monkeypatch.setattr(bench_eval, "LABELLED", tmp_path)
    assert bench_eval.load_labels("test") == ([applies], [later])
    assert bench_eval.load_labels("all") == ([applies], [later, other_split])
