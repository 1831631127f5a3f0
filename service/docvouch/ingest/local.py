"""A documentation folder → the pages to ingest, each with its public URL.

``--base-url`` maps a file's path under the folder to where the same page is published::

    url style  library/os.html       index.html   guide/setup.md
    html       BASE/library/os.html  BASE/index.html   BASE/guide/setup.html
    dirhtml    BASE/library/os/      BASE/             BASE/guide/setup/
    strip      BASE/library/os       BASE/index        BASE/guide/setup
    source     BASE/library/os.html  BASE/index.html   BASE/guide/setup.md

Without a base URL a page links to its file (``file://…``). Symbolic links that lead out of
the folder are not followed: a docs folder must not become a way to read ``/etc``.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".mdown": "markdown",
                 ".rst": "rst", ".rest": "rst", ".txt": "text", ".text": "text"}
COMPRESSED = {".gz": "gzip", ".br": "br", ".zst": "zstd"}
URL_STYLES = ("html", "dirhtml", "strip", "source")
# Generated-site plumbing that is not documentation (Sphinx's sources, assets and indexes).
DEFAULT_EXCLUDES = (
    "_sources/*", "_static/*", "_images/*", "_modules/*", "_downloads/*", "*/_sources/*",
    "*/_static/*", "*/_modules/*", "genindex*.html", "*/genindex*.html", "search.html",
    "*/search.html", "py-modindex.html", "*-modindex.html", "searchindex*", "404.html",
    "node_modules/*", "*/node_modules/*",
)


@dataclass(slots=True)
class LocalPage:
    """One file to ingest."""

    key: str  # path relative to the folder, "/"-separated
    path: Path
    url: str
    format: str  # html | markdown | rst | text
    encoding: str = ""  # gzip | br | zstd for compressed files
    size: int = 0


def page_format(name: str) -> tuple[str, str] | None:
    """(format, compression) of a file name, or None if it is not a page."""
    lower = name.lower()
    encoding = ""
    for suffix, enc in COMPRESSED.items():
        if lower.endswith(suffix):
            lower, encoding = lower[: -len(suffix)], enc
            break
    if lower.endswith(HTML_SUFFIXES):
        return "html", encoding
    suffix = os.path.splitext(lower)[1]
    return (TEXT_SUFFIXES[suffix], encoding) if suffix in TEXT_SUFFIXES else None


def public_url(key: str, *, base_url: str, style: str, fmt: str) -> str:
    """The public URL of the page at ``key`` (see the module docstring)."""
    if style not in URL_STYLES:
        raise ValueError(f"url style must be one of {', '.join(URL_STYLES)}")
    path = key
    for suffix in COMPRESSED:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    stem, dot, _ext = path.rpartition(".")
    if not dot:
        stem = path
    if style == "source":
        rel = path
    elif style == "html":
        rel = path if fmt == "html" else f"{stem}.html"
    elif style == "strip":
        rel = stem
    else:  # dirhtml: "a/b.html" is served as "a/b/", "a/index.html" as "a/"
        pure = PurePosixPath(stem)
        rel = str(pure.parent) if pure.name == "index" else stem
        rel = "" if rel == "." else f"{rel}/"
    return base_url.rstrip("/") + "/" + rel.lstrip("/")


def scan_folder(root: Path, *, base_url: str = "", url_style: str = "", fmt: str = "auto",
                include: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
                default_excludes: bool = True) -> list[LocalPage]:
    """The pages under ``root``, sorted by key.

    ``fmt`` "auto" takes HTML when the folder has any (a built site also holds its sources,
    which would count twice), else Markdown, reST and text.
    """
    root = root.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    excludes = (*DEFAULT_EXCLUDES, *exclude) if default_excludes else tuple(exclude)
    found: list[LocalPage] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            kind = page_format(filename)
            if kind is None:
                continue
            path = Path(dirpath) / filename
            key = path.relative_to(root).as_posix()
            if include and not any(fnmatch.fnmatch(key, pattern) for pattern in include):
                continue
            if any(fnmatch.fnmatch(key, pattern) for pattern in excludes):
                continue
            if not _inside(path, root):
                continue
            found.append(LocalPage(key=key, path=path, url="", format=kind[0],
                                   encoding=kind[1]))
    if fmt == "auto":
        wanted = {"html"} if any(p.format == "html" for p in found) else \
            {"markdown", "rst", "text"}
    else:
        wanted = {fmt}
    pages = [p for p in found if p.format in wanted]
    for page in pages:
        style = url_style or ("html" if page.format == "html" else "source")
        page.url = public_url(page.key, base_url=base_url, style=style, fmt=page.format) \
            if base_url else page.path.as_uri()
    return pages


def _inside(path: Path, root: Path) -> bool:
    """False for a symbolic link (or a file behind one) that resolves outside ``root``."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):
        return False
