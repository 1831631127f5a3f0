"""Curated packs: every pack file is valid, Debian doc packages are found and built."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ingest_support import DOC_ROOT, PYTHON_DOCS, require

from docvouch.engine import Engine
from docvouch.ingest import packs
from docvouch.ingest_cli import build_pack
from docvouch.store import current_index

PACKS_DIR = Path(__file__).resolve().parents[2] / "corpus" / "packs"


def test_every_shipped_pack_parses_and_says_how_to_obtain_it() -> None:
    found = {path.stem: packs.load_pack(path) for path in sorted(PACKS_DIR.glob("*.toml"))}
    assert {"python", "python-docs", "git-docs", "postgresql-docs", "django-docs"} <= set(found)
    for stem, pack in found.items():
        assert pack.name == stem
        assert pack.licence and pack.homepage and pack.obtain.get("how")
        if pack.kind == "html-folder":
            assert pack.debian_packages and pack.source.get("base_url", "").startswith("https://")
    assert found["python-docs"].obtain["how"] == "apt-get install python3-doc"
    assert found["python-docs"].debian_packages == ["python3-doc"]


@pytest.mark.parametrize(("full", "fmt", "expected"), [
    ("3.11.2", "major.minor", "3.11"), ("15.20", "major", "15"),
    ("2.39.5", "major.minor.patch", "2.39.5"), ("3.2.25", "full", "3.2.25"),
])
def test_version_formats(full: str, fmt: str, expected: str) -> None:
    assert packs.format_version(full, fmt) == expected


def test_debian_versions_lose_epoch_and_revision() -> None:
    require(PYTHON_DOCS, "python3-doc")
    assert packs.debian_version("python3-doc").count(".") == 2  # "3.11.2", not "3.11.2-1"
    pack = packs.find_pack("python-docs")
    folder, package = packs.locate_source(pack)
    assert package == "python3-doc" and (folder / "library" / "stdtypes.html").is_file()
    assert packs.pack_version(pack, package) == ".".join(
        packs.debian_version("python3-doc").split(".")[:2])


def test_a_pack_whose_package_is_missing_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "nodocs.toml").write_text(
        'name = "nodocs"\ntitle = "x"\n[source]\nkind = "html-folder"\n'
        'debian_package = ["surely-not-installed-doc"]\n[obtain]\n'
        'how = "apt-get install surely-not-installed-doc"\n')
    pack = packs.load_pack(tmp_path / "nodocs.toml")
    with pytest.raises(packs.PackError, match="apt-get install surely-not-installed-doc"):
        packs.locate_source(pack)


def test_git_docs_pack_builds_with_command_symbols(tmp_path: Path) -> None:
    require(DOC_ROOT / "git-doc", "git-doc")
    summary = build_pack(tmp_path, "git-docs", jobs=2)
    assert summary["pages"] > 150 and not summary["skipped"]
    engine = Engine.open(current_index(tmp_path, "git-docs"))
    names = {s.name for s in engine.index.symbols}
    assert {"git push --force-with-lease", "git commit --amend", "core.fileMode"} <= names
    claim = engine.verify("Use `git push --force-with-lease` to push safely.")["claims"][0]
    assert claim["verdict"] == "supported"
    assert claim["evidence"][0]["url"].startswith("https://git-scm.com/docs/git-push#")
    assert engine.info()["pack"] == "git-docs" and engine.info()["licence"] == "GPL-2.0-only"


def test_corpus_list_shows_packs_and_build_builds_one(tmp_path: Path) -> None:
    require(DOC_ROOT / "git-doc", "git-doc")
    run = [sys.executable, "-m", "docvouch", "--home", str(tmp_path), "corpus"]
    require(DOC_ROOT / "python3-doc", "python3-doc")
    extra = tmp_path / "packs"
    extra.mkdir()
    (extra / "absent.toml").write_text(
        'name = "absent-docs"\ntitle = "Docs nobody installed"\n[source]\n'
        'kind = "html-folder"\ndebian_package = ["no-such-doc-package"]\n'
        '[obtain]\nhow = "apt-get install no-such-doc-package"\n')
    env = {**os.environ, "DOCVOUCH_PACKS": str(extra)}
    listing = subprocess.run([*run, "list"], capture_output=True, text=True, timeout=60, env=env)
    assert "packs (docvouch corpus build NAME):" in listing.stdout
    # installed documentation needs nothing; absent documentation says how to get it
    assert "python-docs" in listing.stdout and "apt-get install python3-doc" not in listing.stdout
    assert "needs: apt-get install no-such-doc-package" in listing.stdout
    built = subprocess.run([*run, "build", "git-docs"], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr
    assert "git-docs" in built.stdout and "passages" in built.stdout
    unknown = subprocess.run([*run, "build", "nope"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "unknown corpus pack 'nope'" in unknown.stderr
