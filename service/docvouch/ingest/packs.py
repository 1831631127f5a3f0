"""Curated corpus packs: ``corpus/packs/*.toml`` files that say what to ingest and how.

A pack names a corpus and everything needed to rebuild it anywhere::

    name = "python-docs"
    title = "Python 3 documentation"
    licence = "PSF-2.0"
    homepage = "https://docs.python.org/3/"

    [source]
    kind = "html-folder"              # html-folder | text-folder | crawl | python-stdlib
                                      # | python-package
    debian_package = ["python3-doc"]  # first one installed wins
    path = "html"                     # inside that package's documentation directory
    base_url = "https://docs.python.org/{version}/"
    url_style = "html"
    exclude = ["whatsnew/changelog.html*"]

    [version]
    from = "debian-package"           # debian-package | interpreter | fixed
    format = "major.minor"            # major | major.minor | major.minor.patch | full

    [obtain]
    how = "apt-get install python3-doc"

A Debian documentation package installs under ``/usr/share/doc/<package>/`` (Debian policy
12.3), so a pack never names a machine's own paths; ``--source DIR`` points elsewhere.

Packs are looked up in ``$DOCVOUCH_PACKS`` (``:``-separated folders), ``$DOCVOUCH_HOME/packs``,
then the ``corpus/packs`` folder of a source checkout; the first pack of a name wins.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docvouch.errors import InputError

DEBIAN_DOC_ROOT = Path("/usr/share/doc")  # Debian policy: a package's documentation
KINDS = ("html-folder", "text-folder", "crawl", "python-stdlib", "python-package")
VERSION_FORMATS = ("major", "major.minor", "major.minor.patch", "full")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PackError(InputError):
    """A pack that cannot be read, or whose source is not on this machine."""

    code = "pack_unavailable"
    title = "Pack unavailable"


@dataclass
class Pack:
    """One parsed pack file."""

    name: str
    title: str
    path: Path
    kind: str
    licence: str = ""
    homepage: str = ""
    description: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    version: dict[str, Any] = field(default_factory=dict)
    obtain: dict[str, Any] = field(default_factory=dict)

    @property
    def debian_packages(self) -> list[str]:
        raw = self.source.get("debian_package", [])
        return [raw] if isinstance(raw, str) else list(raw)

    def summary(self) -> dict[str, Any]:
        """What `corpus list` shows about the pack."""
        return {"name": self.name, "title": self.title, "kind": self.kind,
                "licence": self.licence, "homepage": self.homepage,
                "obtain": self.obtain.get("how", ""), "file": str(self.path)}


def pack_dirs(home: Path | None = None) -> list[Path]:
    """Where packs are looked for, in order."""
    dirs = [Path(p) for p in os.environ.get("DOCVOUCH_PACKS", "").split(os.pathsep) if p]
    if home is not None:
        dirs.append(home / "packs")
    checkout = Path(__file__).resolve().parents[3] / "corpus" / "packs"
    dirs.append(checkout)
    return [d for d in dirs if d.is_dir()]


def load_pack(path: Path) -> Pack:
    """Parse and validate one pack file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PackError(f"pack {path.name} cannot be read: {exc}") from exc
    name = raw.get("name", "")
    source = raw.get("source", {})
    kind = source.get("kind", "")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise PackError(f"pack {path.name}: `name` must be a plain corpus name")
    if kind not in KINDS:
        raise PackError(f"pack {name}: source.kind must be one of {', '.join(KINDS)}")
    version = raw.get("version", {})
    if version.get("format", "full") not in VERSION_FORMATS:
        raise PackError(f"pack {name}: version.format must be one of "
                        f"{', '.join(VERSION_FORMATS)}")
    return Pack(name=name, title=raw.get("title", name), path=path, kind=kind,
                licence=raw.get("licence", ""), homepage=raw.get("homepage", ""),
                description=raw.get("description", ""), source=source, version=version,
                obtain=raw.get("obtain", {}))


def available_packs(home: Path | None = None) -> dict[str, Pack]:
    """Every pack found, by name (the first folder that has a name wins)."""
    packs: dict[str, Pack] = {}
    for directory in pack_dirs(home):
        for path in sorted(directory.glob("*.toml")):
            pack = load_pack(path)
            packs.setdefault(pack.name, pack)
    return packs


def find_pack(name: str, home: Path | None = None) -> Pack:
    """The pack called ``name``; a clear error listing the others otherwise."""
    packs = available_packs(home)
    if name not in packs:
        known = ", ".join(sorted(packs)) or "none found"
        raise PackError(f"unknown corpus pack {name!r}; available: {known}")
    return packs[name]


def locate_source(pack: Pack, override: str | None = None) -> tuple[Path, str]:
    """(folder to ingest, Debian package it came from or "") for a folder pack."""
    if override:
        folder = Path(override).expanduser()
        if not folder.is_dir():
            raise PackError(f"--source {folder} is not a folder")
        return folder, ""
    sub = pack.source.get("path", ".")
    for package in pack.debian_packages:
        folder = DEBIAN_DOC_ROOT / package / sub
        if folder.is_dir() and any(folder.iterdir()):
            return folder, package
    how = pack.obtain.get("how", "")
    raise PackError(f"pack {pack.name}: its documentation is not installed"
                    + (f"; {how}" if how else "") + " (or give --source DIR)")


def debian_version(package: str) -> str:
    """The upstream version of an installed Debian package ("3:3.2.25-0+deb12u7" → 3.2.25)."""
    if not package or shutil.which("dpkg-query") is None:
        return ""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], check=True,
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    upstream = out.split(":", 1)[-1]
    return upstream.rsplit("-", 1)[0] if "-" in upstream else upstream


def format_version(full: str, fmt: str) -> str:
    """``full`` cut to ``fmt`` (see VERSION_FORMATS)."""
    parts = re.findall(r"\d+", full)
    if fmt == "full" or not parts:
        return full
    keep = {"major": 1, "major.minor": 2, "major.minor.patch": 3}[fmt]
    return ".".join(parts[:keep])


def pack_version(pack: Pack, package: str = "") -> str:
    """The documented software's version, as the pack says to find it."""
    how = pack.version.get("from", "fixed")
    fmt = pack.version.get("format", "full")
    if how == "debian-package":
        return format_version(debian_version(package), fmt)
    if how == "interpreter":
        return format_version(".".join(map(str, sys.version_info[:3])), fmt)
    return str(pack.version.get("value", ""))
