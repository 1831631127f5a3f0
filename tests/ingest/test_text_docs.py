"""Markdown, reStructuredText and plain-text folders → sections by headings, code kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docvouch.ingest.hostile import Limits
from docvouch.ingest.sections import PageInfo
from docvouch.ingest.text_docs import extract_text_doc, github_slug

MARKDOWN = b"""---
title: Handbook guide
---
# Install

Run the installer; `pip install handbook` works too.

```sh
pip install handbook --pre
```

## Configure the cache

| key | meaning |
| --- | --- |
| `cache.size` | bytes kept |

New in version 2.1.

## Configure the cache

The same heading twice gets a numbered anchor, as on GitHub.
"""

RST = b"""Statistics
==========

.. module:: stats

Intro with a :func:`fmean` role and a :ref:`label <target>`.

.. function:: fmean(data, weights=None)

   Convert *data* to floats.

   .. versionadded:: 3.8

.. class:: Dist(mu=0.0, sigma=1.0)

   A distribution.

   .. method:: samples(n, *, seed=None)

      Some samples.

.. code-block:: python

   print(1)

.. include:: /etc/passwd

.. raw:: html
   :file: /etc/passwd

Sub section
-----------

Body text.
"""


def extract(data: bytes, name: str, fmt: str) -> dict[str, Any]:
    page = PageInfo(key=name, url=f"https://handbook.example/{name}", corpus="h")
    return extract_text_doc(data, page, fmt=fmt, limits=Limits())


def test_markdown_sections_have_github_anchors_and_keep_code() -> None:
    result = extract(MARKDOWN, "guide.md", "markdown")
    assert result["title"] == "Handbook guide"  # front matter wins over the first heading
    urls = [p["url"] for p in result["passages"]]
    assert urls == ["https://handbook.example/guide.md#install",
                    "https://handbook.example/guide.md#configure-the-cache",
                    "https://handbook.example/guide.md#configure-the-cache-1"]
    install = result["passages"][0]
    assert install["code"] == ["pip install handbook --pre"]
    assert "pip install handbook works too" in install["text"]
    cache = result["passages"][1]
    assert "cache.size | bytes kept" in cache["text"]
    assert cache["heading_path"] == ["Handbook guide", "Install", "Configure the cache"]
    assert [(n["kind"], n["version"]) for n in cache["version_notes"]] == [("added", "2.1")]


def test_github_slug_rules() -> None:
    used: dict[str, int] = {}
    assert github_slug("What's new in 2.0?", used) == "whats-new-in-20"
    assert github_slug("Ünïcode Títle", used) == "ünïcode-títle"
    assert github_slug("What's new in 2.0?", used) == "whats-new-in-20-1"


def test_rst_sections_use_docutils_ids_and_sphinx_objects_become_symbols() -> None:
    result = extract(RST, "api.rst", "rst")
    names = {s["name"]: s for s in result["symbols"]}
    assert names["stats"]["kind"] == "module"
    assert names["stats.fmean"]["params"] == ["data", "weights"]
    assert [(n["kind"], n["version"]) for n in names["stats.fmean"]["version_notes"]] == \
        [("added", "3.8")]
    assert names["stats.Dist.samples"]["params"] == ["n", "seed"]
    urls = {p["url"] for p in result["passages"]}
    assert "https://handbook.example/api.rst#sub-section" in urls
    assert any(p["code"] == ["print(1)"] for p in result["passages"])
    text = " ".join(p["text"] for p in result["passages"])
    assert "Intro with a fmean role and a label." in text


def test_rst_never_reads_files_it_names() -> None:
    result = extract(RST, "api.rst", "rst")
    everything = " ".join(p["text"] + " ".join(p["code"]) for p in result["passages"])
    assert "root:" not in everything


def test_plain_text_splits_at_underlined_headings() -> None:
    text = (b"README\n======\n\nFirst line\nsecond line.\n\n    code line\n    code two\n\n"
            b"Usage\n-----\n\nDo things. Deprecated since version 1.2.\n")
    result = extract(text, "notes.txt", "text")
    assert [p["title"] for p in result["passages"]] == ["README", "Usage"]
    assert result["passages"][0]["text"] == "First line second line."
    assert result["passages"][0]["code"] == ["code line\ncode two"]
    assert result["passages"][1]["version_notes"][0]["kind"] == "deprecated"


def test_a_folder_of_markdown_is_ingested_with_base_url(tmp_path: Path) -> None:
    from docvouch.engine import Engine
    from docvouch.ingest.builder import IngestOptions, ingest_folder
    from docvouch.store import current_index

    docs = tmp_path / "docs"
    (docs / "guide").mkdir(parents=True)
    (docs / "guide" / "setup.md").write_bytes(MARKDOWN)
    (docs / "api.rst").write_bytes(RST)
    (docs / "notes.txt").write_text("Plain notes about the handbook cache size.\n")
    home = tmp_path / "home"
    summary = ingest_folder(home, docs, IngestOptions(
        name="handbook", base_url="https://handbook.example/", url_style="dirhtml", jobs=1))
    assert summary["pages"] == 3 and not summary["skipped"]
    engine = Engine.open(current_index(home, "handbook"))
    hit = engine.search("configure the cache", k=1)[0]
    assert hit["url"] == "https://handbook.example/guide/setup/#configure-the-cache"
