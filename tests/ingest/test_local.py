"""Which files of a folder are pages, and the public URL each one gets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docvouch.ingest.local import public_url, scan_folder


@pytest.mark.parametrize(("key", "style", "fmt", "url"), [
    ("library/os.html", "html", "html", "https://d.example/library/os.html"),
    ("library/os.html", "dirhtml", "html", "https://d.example/library/os/"),
    ("library/index.html", "dirhtml", "html", "https://d.example/library/"),
    ("index.html", "dirhtml", "html", "https://d.example/"),
    ("git-push.html", "strip", "html", "https://d.example/git-push"),
    ("whatsnew/changelog.html.gz", "html", "html", "https://d.example/whatsnew/changelog.html"),
    ("guide/setup.md", "html", "markdown", "https://d.example/guide/setup.html"),
    ("guide/setup.md", "source", "markdown", "https://d.example/guide/setup.md"),
])
def test_public_url_styles(key: str, style: str, fmt: str, url: str) -> None:
    assert public_url(key, base_url="https://d.example/", style=style, fmt=fmt) == url


def test_html_wins_over_sources_and_sphinx_plumbing_is_skipped(tmp_path: Path) -> None:
    for name in ("index.html", "api.html", "_sources/api.rst.txt", "_static/x.html",
                 "genindex.html", "search.html", "README.md", ".hidden/x.html"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<p>x</p>")
    keys = [p.key for p in scan_folder(tmp_path)]
    assert keys == ["api.html", "index.html"]
    assert [p.key for p in scan_folder(tmp_path, fmt="markdown")] == ["README.md"]


def test_files_are_linked_as_file_urls_without_a_base_url(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n")
    page = scan_folder(tmp_path)[0]
    assert page.url == (tmp_path / "a.md").resolve().as_uri()


def test_symlinks_out_of_the_folder_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.html").write_text("<p>secret</p>")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.html").write_text("<p>page</p>")
    os.symlink(outside / "secret.html", docs / "leak.html")
    os.symlink(outside, docs / "linked-dir")
    assert [p.key for p in scan_folder(docs)] == ["page.html"]
