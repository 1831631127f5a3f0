"""bench/accel_speed.py runs both engines side by side and reports their ratio (no timing
is asserted: only that each side really ran the engine it names)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from docvouch import accel

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_one_round_pairs_the_engines_and_reports_the_ratio(docvouch_home: Path) -> None:
    done = subprocess.run([sys.executable, str(BENCH / "accel_speed.py"), "--rounds", "1",
                           "--answers", "3", "--home", str(docvouch_home)],
                          capture_output=True, text=True, timeout=600)
    if not accel.check_build(accel.accel_dir()).active:  # nothing compiled to compare
        assert done.returncode != 0
        assert "asked for the compiled engine, got python" in done.stderr
        return
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"^\| 1 \| 0 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$", done.stdout, re.M)
    assert re.search(r"Compiled / python \(both at once on a core\), median of 1 rounds: "
                     r"[0-9.]+ \(range", done.stdout)
