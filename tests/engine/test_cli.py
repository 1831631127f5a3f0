"""The ``docvouch`` command as a user runs it: a real subprocess on the shared corpus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest


def run(home: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DOCVOUCH_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "docvouch", *args], input=stdin,
                          capture_output=True, env=env, timeout=120, check=False)


def test_check_from_stdin_prints_verdict_suggestion_and_link(docvouch_home: Path) -> None:
    out = run(docvouch_home, "check", "-",
              stdin=b"Check for a folder with `os.path.isdirectory(p)`.\n")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "contradicted" in text
    assert "did you mean: os.path.isdir" in text
    assert "https://docs.python.org/3.11/library/os.path.html#os.path.isdir" in text


def test_check_json_is_the_verify_response(docvouch_home: Path, tmp_path: Path, engine) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text("Use `sorted(xs, reversed=True)` to sort descending.\n")
    out = run(docvouch_home, "check", str(answer), "--format", "json")
    assert out.returncode == 0, out.stderr
    got = orjson.loads(out.stdout)
    want = engine.verify(answer.read_text())
    got.pop("took_ms"), want.pop("took_ms")
    assert got == want


def test_fail_on_sets_the_exit_code(docvouch_home: Path) -> None:
    out = run(docvouch_home, "check", "-", "--fail-on", "contradicted",
              stdin=b"Save it with `pickle.serialize(obj)`.")
    assert out.returncode == 1


def test_fail_on_takes_a_list_and_comes_before_the_file(docvouch_home: Path,
                                                         tmp_path: Path) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text("Save it with `pickle.serialize(obj)`.\n")
    listed = run(docvouch_home, "check", "--fail-on", "unsupported,contradicted", str(answer))
    assert listed.returncode == 1, listed.stderr
    repeated = run(docvouch_home, "check", "--fail-on", "partial", "--fail-on", "supported",
                   str(answer))
    assert repeated.returncode == 0, repeated.stderr
    wrong = run(docvouch_home, "check", "--fail-on", "contradictd", str(answer))
    assert wrong.returncode == 2
    assert b"not a verdict: contradictd" in wrong.stderr


@pytest.mark.parametrize("args", [
    ("check", "-", "--top-k", "0"), ("check", "-", "--top-k", "-5"),
    ("check", "-", "--top-k", "51"), ("check", "-", "--max-claims", "0"),
    ("check", "-", "--max-claims", "-1"), ("search", "json", "-k", "0"),
    ("search", "json", "-k", "ten"),
])
def test_out_of_range_numbers_are_refused_before_any_work(docvouch_home: Path,
                                                          args: tuple[str, ...]) -> None:
    out = run(docvouch_home, *args, stdin=b"Save it with `pickle.serialize(obj)`.")
    assert out.returncode == 2, out.stderr
    assert b"Traceback" not in out.stderr
    assert b"between 1 and" in out.stderr or b"not a whole number" in out.stderr


def test_output_cut_short_by_the_reader_is_not_an_error(docvouch_home: Path) -> None:
    env = {**os.environ, "DOCVOUCH_HOME": str(docvouch_home), "NO_COLOR": "1"}
    # `true` has exited before docvouch writes a byte: every write meets a closed pipe
    pipeline = subprocess.run(
        f"set -o pipefail; {sys.executable} -m docvouch search 'open a file' -k 50 | true",
        shell=True, capture_output=True, env=env, timeout=120, check=False,
        executable="/bin/bash")
    assert pipeline.returncode == 0
    assert pipeline.stderr == b"", pipeline.stderr


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe not utf8", b"not valid UTF-8"),
    (b"\x00\x01\x02binary", b"looks binary"),
])
def test_bad_input_is_one_clear_line_not_a_traceback(docvouch_home: Path, data: bytes,
                                                     message: bytes) -> None:
    out = run(docvouch_home, "check", "-", stdin=data)
    assert out.returncode == 2
    assert message in out.stderr
    assert b"Traceback" not in out.stderr
    assert out.stderr.count(b"\n") == 1


def test_missing_file_is_a_clear_error(docvouch_home: Path, tmp_path: Path) -> None:
    out = run(docvouch_home, "check", str(tmp_path / "nope.md"))
    assert out.returncode == 2 and b"cannot read" in out.stderr


def test_search_ranks_the_documenting_passage_first(docvouch_home: Path) -> None:
    out = run(docvouch_home, "search", "create intermediate directories", "-k", "3")
    assert out.returncode == 0
    first = out.stdout.decode().splitlines()[0]
    assert "os.makedirs" in first


def test_corpus_info_and_list(docvouch_home: Path) -> None:
    info = orjson.loads(run(docvouch_home, "corpus", "info", "--format", "json").stdout)
    assert info["name"] == "python" and info["passages"] > 10_000
    listing = run(docvouch_home, "corpus", "list").stdout.decode()
    assert listing.startswith("python")


def test_unknown_corpus_is_a_clear_error(docvouch_home: Path) -> None:
    out = run(docvouch_home, "check", "-", "--corpus", "nope", stdin=b"text")
    assert out.returncode == 3
    assert b"corpus 'nope' has no index" in out.stderr


def test_the_command_line_limits_are_the_api_limits() -> None:
    from docvouch import cli, validation
    from docvouch.settings import Settings

    assert cli.MAX_TOP_K == validation.MAX_TOP_K
    assert Settings().max_claims == cli.MAX_CLAIMS


def test_the_corpus_comes_from_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from docvouch import cli

    monkeypatch.delenv("DOCVOUCH_CORPUS", raising=False)
    monkeypatch.setenv("DOCVOUCH_DEFAULT_CORPUS", "handbook")
    assert cli.build_parser().parse_args(["search", "x"]).corpus == "handbook"
    monkeypatch.setenv("DOCVOUCH_CORPUS", "git-docs")
    assert cli.build_parser().parse_args(["check", "-"]).corpus == "git-docs"
