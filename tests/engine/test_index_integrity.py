"""A corrupt, truncated or foreign index is refused (or, for the default, rebuilt)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from docvouch.engine import Engine
from docvouch.errors import IndexCorruptError, IndexMissingError
from docvouch.index import Index
from docvouch.store import (
    current_index,
    default_index_is_fresh,
    ensure_default_index,
    python_release,
)


@pytest.fixture
def copy_of_index(default_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(default_index_dir, target)
    return target


def test_missing_directory_is_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError):
        Index(tmp_path / "absent")


@pytest.mark.parametrize("victim", ["passages.bin", "bm25/data.csc.index.npy", "symbols.json"])
def test_truncated_file_is_refused(copy_of_index: Path, victim: str) -> None:
    path = copy_of_index / victim
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(IndexCorruptError, match="checksum"):
        Engine.open(copy_of_index)


def test_flipped_byte_is_refused(copy_of_index: Path) -> None:
    path = copy_of_index / "passages.bin"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError):
        Engine.open(copy_of_index)


def test_garbage_manifest_is_refused(copy_of_index: Path) -> None:
    (copy_of_index / "manifest.json").write_bytes(b"{not json")
    with pytest.raises(IndexCorruptError, match="manifest"):
        Engine.open(copy_of_index)


def test_index_from_another_format_version_is_refused(copy_of_index: Path) -> None:
    manifest = orjson.loads((copy_of_index / "manifest.json").read_bytes())
    manifest["format_version"] = 999
    (copy_of_index / "manifest.json").write_bytes(orjson.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="rebuild"):
        Engine.open(copy_of_index)


def test_cli_rebuilds_a_corrupt_default_index(tmp_path: Path, default_index_dir: Path) -> None:
    home = tmp_path / "home"
    root = home / "indexes" / "python"
    (root / "builds").mkdir(parents=True)
    shutil.copytree(default_index_dir, root / "builds" / "old")
    os.symlink(Path("builds") / "old", root / "current")
    (root / "builds" / "old" / "passages.bin").write_bytes(b"torn")
    env = {**os.environ, "DOCVOUCH_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "docvouch", "check", "-"],
                         input=b"Use `os.makedirs(p, exist_ok=True)` for nested folders.",
                         capture_output=True, env=env, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert b"corrupt; rebuilding" in out.stderr
    assert current_index(home, "python") != (root / "builds" / "old").resolve()
    Engine.open(ensure_default_index(home))  # the published index is whole again


def test_default_index_from_another_interpreter_release_is_rebuilt(
        tmp_path: Path, default_index_dir: Path) -> None:
    """A bugfix release can change docstrings, so its index is not this interpreter's."""
    home = tmp_path / "home"
    root = home / "indexes" / "python"
    (root / "builds").mkdir(parents=True)
    shutil.copytree(default_index_dir, root / "builds" / "mine")
    os.symlink(Path("builds") / "mine", root / "current")
    assert default_index_is_fresh(home)
    manifest_path = root / "builds" / "mine" / "manifest.json"
    manifest = orjson.loads(manifest_path.read_bytes())
    assert manifest["corpus"]["interpreter"] == python_release()
    manifest["corpus"]["interpreter"] = "3.11.0"
    manifest_path.write_bytes(orjson.dumps(manifest))
    assert not default_index_is_fresh(home)
