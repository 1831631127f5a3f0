"""Incremental and atomic builds: unchanged pages reused, removed pages dropped, no half state."""

from __future__ import annotations

from pathlib import Path

import pytest

from docvouch.engine import Engine
from docvouch.errors import CorpusBuildError
from docvouch.ingest.builder import IngestOptions, ingest_folder
from docvouch.ingest.incremental import PAGES_FILE
from docvouch.store import current_index

PAGE = """<!doctype html><html><head><title>{title}</title></head><body>
<div role="main"><section id="{anchor}"><h1>{title}<a class="headerlink" href="#{anchor}">¶</a>
</h1><p>{text}</p></section></div></body></html>"""


def write(folder: Path, name: str, title: str, text: str) -> None:
    anchor = title.lower().replace(" ", "-")
    (folder / name).write_text(PAGE.format(title=title, anchor=anchor, text=text))


def options(**kw: object) -> IngestOptions:
    return IngestOptions(name="site", base_url="https://site.example/", jobs=1, **kw)  # type: ignore[arg-type]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    write(folder, "alpha.html", "Alpha widgets", "Alpha widgets spin clockwise at night.")
    write(folder, "beta.html", "Beta gadgets", "Beta gadgets hum quietly in the morning.")
    write(folder, "gamma.html", "Gamma gizmos", "Gamma gizmos glow faintly when cold.")
    return folder


def test_second_build_reextracts_only_what_changed(site: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = ingest_folder(home, site, options())
    assert (first["extracted"], first["reused"], first["removed"]) == (3, 0, 0)
    write(site, "beta.html", "Beta gadgets", "Beta gadgets now whistle loudly at noon.")
    (site / "gamma.html").unlink()
    write(site, "delta.html", "Delta doohickeys", "Delta doohickeys rattle on Tuesdays.")
    second = ingest_folder(home, site, options())
    assert (second["extracted"], second["reused"], second["removed"]) == (2, 1, 1)
    engine = Engine.open(current_index(home, "site"))
    texts = [engine.index.passage(i).text for i in range(engine.index.size)]
    assert any("whistle loudly" in t for t in texts)
    assert not any("hum quietly" in t for t in texts)
    assert not any("Gamma" in t for t in texts)
    assert engine.search("doohickeys rattle")[0]["url"] == \
        "https://site.example/delta.html#delta-doohickeys"


def test_nothing_changed_reuses_every_page(site: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ingest_folder(home, site, options())
    again = ingest_folder(home, site, options())
    assert (again["extracted"], again["reused"]) == (0, 3)


def test_other_settings_mean_a_full_extraction(site: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ingest_folder(home, site, options())
    moved = ingest_folder(home, site, IngestOptions(name="site", base_url="https://new.example/",
                                                    jobs=1))
    assert moved["extracted"] == 3 and "settings changed" in moved["full_reason"]
    forced = ingest_folder(home, site, IngestOptions(name="site", base_url="https://new.example/",
                                                     jobs=1, full=True))
    assert forced["extracted"] == 3 and forced["full_reason"] == "--full was given"


def test_a_tampered_page_manifest_is_not_trusted(site: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ingest_folder(home, site, options())
    manifest = current_index(home, "site") / PAGES_FILE
    manifest.write_bytes(manifest.read_bytes().replace(b"clockwise", b"backwards"))
    again = ingest_folder(home, site, options())
    assert again["extracted"] == 3 and "checksum" in again["full_reason"]


def test_a_build_with_no_text_publishes_nothing(site: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ingest_folder(home, site, options())
    before = current_index(home, "site")
    for page in site.iterdir():
        page.write_bytes(b"\x00\x01\x02" * 1000)  # binary garbage: every page rejected
    with pytest.raises(CorpusBuildError, match="nothing published"):
        ingest_folder(home, site, options())
    assert current_index(home, "site") == before
    assert Engine.open(before).index.size == 3
    assert not list((home / "indexes" / "site" / "builds").glob(".tmp-*"))


def test_skipped_pages_are_reported_with_their_reason(site: Path, tmp_path: Path) -> None:
    (site / "huge.html").write_bytes(b"<p>" + b"x" * 2000 + b"</p>")
    (site / "empty.html").write_text("<html><body><nav>menu</nav></body></html>")
    summary = ingest_folder(tmp_path / "home", site, IngestOptions(
        name="site", jobs=1, limits=__import__("docvouch.ingest.hostile", fromlist=["Limits"])
        .Limits(max_page_bytes=1500)))
    reasons = {s["key"]: s["reason"] for s in summary["skipped"]}
    assert "over the 1,500-byte cap (not read)" in reasons["huge.html"]
    assert "no text" in reasons["empty.html"]
    assert summary["passages"] == 3
