"""`make extension`: the store zips hold the unpacked extension as it is, and the Firefox one
carries the Firefox-only manifest keys."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

EXTENSION_DIR = Path(__file__).resolve().parents[2] / "extension"
# Mozilla's own add-on validator (npm, installed by `npm ci` from package.json): what
# addons.mozilla.org runs on an upload, offline. There is no Firefox on the test machines.
ADDONS_LINTER = EXTENSION_DIR.parent / "node_modules" / ".bin" / "addons-linter"


@pytest.fixture(scope="module")
def package_module():
    spec = importlib.util.spec_from_file_location(
        "docvouch_package", EXTENSION_DIR / "scripts" / "package.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def zips(package_module, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    assert package_module.main(["--out", str(out)]) == 0
    return {"chrome": out / "docvouch-chrome.zip", "firefox": out / "docvouch-firefox.zip"}


def manifest_in(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def names_in(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())


def test_chrome_zip_holds_the_unpacked_extension_unchanged(zips: dict[str, Path]) -> None:
    on_disk = json.loads((EXTENSION_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest_in(zips["chrome"]) == on_disk
    names = names_in(zips["chrome"])
    assert "background/service-worker.js" in names
    assert "options/options.html" in names
    assert not any(name.startswith("scripts/") for name in names), (
        "the packaging script is not shipped"
    )


def test_firefox_zip_runs_the_background_as_event_page_scripts(zips: dict[str, Path]) -> None:
    manifest = manifest_in(zips["firefox"])
    scripts = manifest["background"]["scripts"]
    assert "service_worker" not in manifest["background"]
    assert scripts[-1] == "background/service-worker.js"
    assert scripts[0] == "shared/browser-api.js"
    assert set(scripts) <= names_in(zips["firefox"])


def test_firefox_zip_has_gecko_settings(zips: dict[str, Path]) -> None:
    gecko = manifest_in(zips["firefox"])["browser_specific_settings"]["gecko"]
    assert gecko["id"] == "docvouch@docvouch"
    assert float(gecko["strict_min_version"]) >= 140
    assert gecko["data_collection_permissions"] == {"required": ["websiteContent"]}
    android = manifest_in(zips["firefox"])["browser_specific_settings"]["gecko_android"]
    assert float(android["strict_min_version"]) >= 142
    assert "minimum_chrome_version" not in manifest_in(zips["firefox"])


def test_both_zips_keep_the_same_permissions(zips: dict[str, Path]) -> None:
    chrome, firefox = manifest_in(zips["chrome"]), manifest_in(zips["firefox"])
    for key in (
        "permissions",
        "host_permissions",
        "optional_host_permissions",
        "content_security_policy",
        "content_scripts",
    ):
        assert chrome[key] == firefox[key], key


def test_zips_are_reproducible(package_module, tmp_path: Path, zips: dict[str, Path]) -> None:
    assert package_module.main(["--out", str(tmp_path)]) == 0
    for name, path in zips.items():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), name


def test_firefox_zip_passes_mozillas_add_on_validator(zips: dict[str, Path]) -> None:
    run = subprocess.run([str(ADDONS_LINTER), "--output", "json", str(zips["firefox"])],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.stdout.strip(), f"addons-linter printed no report: {run.stderr[-2000:]}"
    report = json.loads(run.stdout)
    problems = [(m["code"], m["message"]) for kind in ("errors", "warnings", "notices")
                for m in report[kind]]
    assert problems == []
    assert report["summary"] == {"errors": 0, "notices": 0, "warnings": 0}
