"""The same answer gets the same response in every process, whatever its hash seed.

Service workers are separate processes with their own string-hash seeds; a result that
depended on set order (which query terms tie for "rarest", the order coverage weights are
summed in) would make the extension's re-check of an answer disagree with the first one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

LABELLED = Path(__file__).resolve().parents[2] / "bench" / "labelled" / "answers"
# answers whose claims have query terms of equal IDF and passages of equal coverage
ANSWERS = ("a04_json_file.md", "a51_list_methods.md", "a19_logging_basic.md",
           "a28_asyncio_queue.md")


def verify_in_a_process(home: Path, answer: Path, seed: str) -> list[dict]:
    env = {**os.environ, "DOCVOUCH_HOME": str(home), "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-m", "docvouch", "check", str(answer),
                           "--format", "json"], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    body = orjson.loads(done.stdout)
    body.pop("took_ms")
    return body


def test_hash_seed_does_not_change_any_result(docvouch_home: Path, tmp_path: Path) -> None:
    answer = tmp_path / "answers.md"
    answer.write_text("\n\n".join((LABELLED / name).read_text() for name in ANSWERS))
    first = verify_in_a_process(docvouch_home, answer, "1")
    assert len(first["claims"]) > 40
    for seed in ("2", "3"):
        assert verify_in_a_process(docvouch_home, answer, seed) == first, seed
