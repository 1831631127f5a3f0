"""HTML pages from real generators → sections, anchors, code, symbols and version notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ingest_support import DOC_ROOT, require

from docvouch.ingest.hostile import Limits
from docvouch.ingest.html import extract_html
from docvouch.ingest.sections import PageInfo

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest"


def extract(path: Path, url: str = "https://docs.example.org/page.html",
            **kwargs: Any) -> dict[str, Any]:
    page = PageInfo(key=path.name, url=url, corpus="t", version="1")
    return extract_html(path.read_bytes(), page, limits=Limits(), **kwargs)


def by_url(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["url"]: p for p in result["passages"]}


def symbols(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in result["symbols"]}


def test_mkdocs_page_splits_at_permalinked_headings() -> None:
    result = extract(FIXTURES / "mkdocs-page.html", "https://handbook.example/configuration/")
    passages = by_url(result)
    cache = passages["https://handbook.example/configuration/#cache-settings"]
    assert cache["heading_path"] == ["Configuration", "Cache settings"]
    assert cache["code"] == ['[cache]\nsize = "128MiB"']
    assert "cache.ttl\nSeconds an entry stays valid." in cache["text"]  # definition list kept
    assert "debug | every request" in passages[
        "https://handbook.example/configuration/#logging"]["text"]
    assert result["title"] == "Configuration"
    everything = " ".join(p["text"] for p in result["passages"])
    assert "Made with Material" not in everything and "Home" not in everything


def test_unmarked_page_goes_through_trafilatura_and_keeps_anchors() -> None:
    result = extract(FIXTURES / "plain-article.html", "https://blog.example/deploy")
    passages = by_url(result)
    install = passages["https://blog.example/deploy#install"]
    assert install["title"] == "Installing the package"
    assert "sudo systemctl enable --now widget-service" in install["code"][0]
    assert "https://blog.example/deploy#health" in passages
    everything = " ".join(p["text"] for p in result["passages"])
    assert "Recent posts" not in everything and "newsletter" not in everything


def test_links_are_absolute_and_deduplicated_for_the_crawler() -> None:
    result = extract(FIXTURES / "mkdocs-page.html", "https://handbook.example/configuration/",
                     want_links=True)
    assert result["links"] == ["https://handbook.example/",
                               "https://handbook.example/configuration/"]


def test_django_sphinx_theme_sections_and_settings() -> None:
    root = require(DOC_ROOT / "python-django-doc" / "html", "python-django-doc")
    result = extract(root / "ref" / "settings.html",
                     "https://docs.djangoproject.com/en/3.2/ref/settings/")
    assert result["title"] == "Settings"  # not the site header's h1
    debug = symbols(result)["DEBUG"]
    assert debug["kind"] == "config"
    passage = result["passages"][debug["passage"]]
    assert passage["url"] == "https://docs.djangoproject.com/en/3.2/ref/settings/#debug"
    assert "CACHES-BACKEND" not in symbols(result)


def test_django_new_in_notes_become_version_notes() -> None:
    root = require(DOC_ROOT / "python-django-doc" / "html", "python-django-doc")
    result = extract(root / "ref" / "models" / "querysets.html")
    alias = symbols(result)["django.db.models.query.QuerySet.alias"]
    assert [(n["kind"], n["version"]) for n in alias["version_notes"]] == [("added", "3.2")]


def test_postgresql_settings_are_config_symbols_at_their_anchor() -> None:
    root = require(DOC_ROOT / "postgresql-doc-15" / "html", "postgresql-doc-15")
    result = extract(root / "runtime-config-resource.html",
                     "https://www.postgresql.org/docs/15/runtime-config-resource.html")
    work_mem = symbols(result)["work_mem"]
    passage = result["passages"][work_mem["passage"]]
    assert passage["url"].endswith("#GUC-WORK-MEM")
    assert passage["title"] == "work_mem (integer)"
    assert "Sets the base maximum amount of memory" in passage["text"]


def test_git_manual_page_options_become_command_symbols() -> None:
    root = require(DOC_ROOT / "git-doc", "git-doc")
    result = extract(root / "git-push.html", "https://git-scm.com/docs/git-push",
                     command_prefixes=("git",))
    names = symbols(result)
    for name in ("git push --force-with-lease", "git push --no-force-with-lease",
                 "git-push --force-with-lease", "git --force-with-lease", "git push -f"):
        assert name in names, name
    passage = result["passages"][names["git push --force-with-lease"]["passage"]]
    assert "refuses to update a remote ref" in passage["text"]
    synopsis = by_url(result)["https://git-scm.com/docs/git-push#_synopsis"]
    assert "git push" in synopsis["code"][0]


@pytest.mark.parametrize("name", ["index.html", "library/os.html", "tutorial/classes.html"])
def test_python_docs_pages_have_no_navigation_text(name: str) -> None:
    root = require(DOC_ROOT / "python3-doc" / "html", "python3-doc")
    result = extract(root / name)
    text = " ".join(p["text"] for p in result["passages"])
    assert "Previous topic" not in text and "Quick search" not in text
    assert "¶" not in text
