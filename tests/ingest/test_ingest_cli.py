"""``docvouch ingest`` as a user runs it: a subprocess, progress on stderr, summary on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from docvouch import ingest_cli
from docvouch.ingest.hostile import Limits


def docvouch(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "docvouch", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=300)


def test_ingest_a_folder_prints_a_summary_with_skipped_pages(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text("# Guide\n\nThe handbook cache keeps 64 MiB by default.\n")
    (docs / "broken.md").write_bytes(b"")
    out = docvouch(tmp_path / "home", "ingest", str(docs), "--name", "handbook")
    assert out.returncode == 0, out.stderr
    assert "corpus handbook: 1 passages" in out.stdout
    assert "skipped broken.md: empty file" in out.stdout
    assert "docvouch: extracting" in out.stderr  # progress, on stderr only
    listing = docvouch(tmp_path / "home", "corpus", "list")
    assert listing.stdout.startswith("handbook")


def test_ingest_json_summary_and_a_check_against_the_new_corpus(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "api.rst").write_text("API\n===\n\n.. function:: frob(level=1)\n\n   Frobnicate.\n"
                                  "\n   .. versionadded:: 2.0\n")
    out = docvouch(tmp_path / "home", "ingest", str(docs), "--name", "frob", "--format", "json")
    summary = json.loads(out.stdout)
    assert summary["symbols"] == 1 and summary["skipped"] == []
    check = subprocess.run([sys.executable, "-m", "docvouch", "--home", str(tmp_path / "home"),
                            "check", "-", "--corpus", "frob", "--format", "json"],
                           input="Call `frob(levels=2)`.", capture_output=True, text=True,
                           timeout=120)
    claim = json.loads(check.stdout)["claims"][0]
    assert claim["verdict"] == "contradicted" and claim["suggestion"] == "level"


def test_bad_sources_are_input_errors(tmp_path: Path) -> None:
    missing = docvouch(tmp_path, "ingest", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
    both = docvouch(tmp_path, "ingest", str(tmp_path), "--python-package", "x")
    assert both.returncode == 2 and "exactly one" in both.stderr
    refused = docvouch(tmp_path, "ingest", "http://169.254.169.254/latest/meta-data/")
    assert refused.returncode == 2 and "link-local" in refused.stderr
    bad_name = docvouch(tmp_path, "ingest", str(tmp_path), "--name", "../x")
    assert bad_name.returncode == 2


def test_cli_defaults_equal_the_limits() -> None:
    limits = Limits()
    assert limits.max_page_bytes == ingest_cli.MAX_PAGE_BYTES
    assert limits.page_timeout_s == ingest_cli.PAGE_TIMEOUT_S
    assert limits.memory_bytes == ingest_cli.MEMORY_MB * 2**20
