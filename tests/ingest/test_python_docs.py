"""python3-doc ingested for real: anchors, signatures, version notes, verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ingest_support import CORPUS

from docvouch.engine import Engine
from docvouch.passages import VersionNote
from docvouch.symbols import SymbolTable

pytestmark = pytest.mark.timeout(180)


def _symbol(engine: Engine, name: str) -> Any:
    table = SymbolTable(engine.index.symbols)
    assert name in table, f"{name} missing from the symbol table"
    return table.by_name[name]


def _verdict(engine: Engine, text: str) -> dict[str, Any]:
    result = engine.verify(text)
    assert len(result["claims"]) == 1, result["claims"]
    return result["claims"][0]


def test_str_isascii_lands_at_its_anchor_with_new_in_3_7(pydocs_engine: Engine) -> None:
    symbol = _symbol(pydocs_engine, "str.isascii")
    passage = pydocs_engine.index.passage(symbol.passage)
    assert passage.url == "https://docs.python.org/3.11/library/stdtypes.html#str.isascii"
    assert passage.title == "str.isascii()"
    assert "New in version 3.7" in passage.text
    assert VersionNote("added", "3.7", "New in version 3.7.") in passage.version_notes
    assert [(n.kind, n.version) for n in symbol.version_notes] == [("added", "3.7")]
    assert symbol.kind == "method" and symbol.params == []


def test_sphinx_signatures_give_keyword_parameters(pydocs_engine: Engine) -> None:
    fmean = _symbol(pydocs_engine, "statistics.fmean")
    assert fmean.params == ["data", "weights"]
    assert fmean.signature == "(data, weights=None)"
    to_bytes = _symbol(pydocs_engine, "int.to_bytes")  # keyword-only after a bare *
    assert to_bytes.params == ["length", "byteorder", "signed"]
    dumps = _symbol(pydocs_engine, "json.dumps")
    assert dumps.var_keyword and "sort_keys" in dumps.params


def test_module_sections_become_module_symbols_with_their_notes(pydocs_engine: Engine) -> None:
    module = _symbol(pydocs_engine, "statistics")
    assert module.kind == "module"
    assert [(n.kind, n.version) for n in module.version_notes] == [("added", "3.4")]
    passage = pydocs_engine.index.passage(module.passage)
    assert passage.url.endswith("library/statistics.html#module-statistics")


def test_changed_notes_are_structured_on_passage_and_symbol(pydocs_engine: Engine) -> None:
    fmean = _symbol(pydocs_engine, "statistics.fmean")
    kinds = {(n.kind, n.version) for n in fmean.version_notes}
    assert kinds == {("added", "3.8"), ("changed", "3.11")}
    passage = pydocs_engine.index.passage(fmean.passage)
    assert any(n.kind == "changed" and "weights" in n.text for n in passage.version_notes)


def test_sections_keep_their_real_ids_as_anchors(pydocs_engine: Engine) -> None:
    urls = {pydocs_engine.index.passage(i).url for i in range(pydocs_engine.index.size)}
    assert ("https://docs.python.org/3.11/library/statistics.html"
            "#averages-and-measures-of-central-location") in urls
    assert "https://docs.python.org/3.11/library/stdtypes.html#truth-value-testing" in urls


def test_code_blocks_are_kept_apart_from_prose(pydocs_engine: Engine) -> None:
    split = pydocs_engine.index.passage(_symbol(pydocs_engine, "str.split").passage)
    assert any("'1,2,3'.split(',', maxsplit=1)" in code for code in split.code)
    assert ">>>" not in split.text


def test_fmean_added_in_3_6_is_contradicted(pydocs_engine: Engine) -> None:
    claim = _verdict(pydocs_engine, "`statistics.fmean` was added in Python 3.6.")
    assert claim["verdict"] == "contradicted"
    assert "3.8" in claim["reason"]
    assert claim["evidence"][0]["url"].endswith("statistics.html#statistics.fmean")


def test_fmean_added_in_3_8_is_supported(pydocs_engine: Engine) -> None:
    claim = _verdict(pydocs_engine, "`statistics.fmean` was added in Python 3.8.")
    assert claim["verdict"] == "supported"


def test_a_keyword_the_html_signature_lacks_is_contradicted(pydocs_engine: Engine) -> None:
    claim = _verdict(pydocs_engine, "Weight it with `statistics.fmean(data, weight=w)`.")
    assert claim["verdict"] == "contradicted"
    assert claim.get("suggestion") == "weights"


def test_corpus_manifest_records_source_and_version(pydocs_engine: Engine) -> None:
    info = pydocs_engine.info()
    assert info["name"] == CORPUS and info["version"] == "3.11"
    assert info["kind"] == "html" and info["pages"] == 4
    first = pydocs_engine.index.passage(0)
    assert first.source == CORPUS and first.version == "3.11"


async def test_a_running_server_verifies_against_the_ingested_corpus(
        pydocs_home: Path, aiohttp_client: Any) -> None:
    """Published beside the default corpus, `options.corpus` picks it (reload picks it up)."""
    from docvouch.app import create_app
    from docvouch.settings import build_settings

    settings = build_settings({"home": str(pydocs_home), "workers": 1,
                               "build_default_index": False, "log_format": "json"})
    client = await aiohttp_client(create_app(settings))
    await _wait_ready(client)
    resp = await client.post("/v1/verify", json={
        "text": "`statistics.fmean` was added in Python 3.6.",
        "options": {"corpus": CORPUS}})
    body = await resp.json()
    assert resp.status == 200, body
    assert body["corpus"]["name"] == CORPUS
    assert body["claims"][0]["verdict"] == "contradicted"


async def _wait_ready(client: Any, deadline_s: float = 60.0) -> None:
    import asyncio
    import time

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        resp = await client.get("/readyz")
        if resp.status == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the server did not become ready")
