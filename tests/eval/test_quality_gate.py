"""The verdict-quality gate: figures on the labelled answers may not fall below their floors.

Floors live in ``bench/labelled/floors.json`` and only go up. EPSILON absorbs nothing but
float rounding: the engine is deterministic on a given interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EPSILON = 1e-3


def _load_eval():
    spec = importlib.util.spec_from_file_location("docvouch_bench_eval", ROOT / "bench" / "eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("split", ["dev", "test"])
def test_quality_does_not_fall_below_its_floors(engine, split: str) -> None:
    bench_eval = _load_eval()
    floors = json.loads((ROOT / "bench" / "labelled" / "floors.json").read_text())[split]
    m = bench_eval.metrics(bench_eval.evaluate(engine, split))
    assert m["hallucinations_caught"] >= floors["hallucinations_caught"] - EPSILON
    assert m["real_wrongly_contradicted"] <= floors["real_wrongly_contradicted_max"] + EPSILON
    assert m["contradicted"]["precision"] >= floors["contradicted_precision"] - EPSILON
    assert m["contradicted"]["recall"] >= floors["contradicted_recall"] - EPSILON
    assert m["supported_or_partial"]["recall"] >= floors["backed_recall"] - EPSILON


def test_labels_are_valid_for_this_interpreter() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "labelled" / "check_labels.py")],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
