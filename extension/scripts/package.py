"""Build the store packages: dist/docvouch-chrome.zip and dist/docvouch-firefox.zip.

The extension has no build step; packaging only zips extension/ (less this scripts/ folder) and,
for Firefox, rewrites the manifest: an event page listing the background scripts instead of a
service worker, and the `browser_specific_settings.gecko` block Firefox Add-ons requires.
Zips are reproducible: sorted entries, fixed timestamps and permissions.

Usage: python3 extension/scripts/package.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import zipfile
from pathlib import Path, PurePosixPath

EXTENSION_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = EXTENSION_DIR.parent
LEFT_OUT_DIRS = {"scripts"}
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)

GECKO_SETTINGS = {
    "id": "docvouch@docvouch",
    # 140 is the first Firefox with the CSS Custom Highlight API and data_collection_permissions.
    "strict_min_version": "140.0",
    # Answer text goes to the service the user configures (their machine or their team's server).
    "data_collection_permissions": {"required": ["websiteContent"]},
}
# Firefox for Android reads data_collection_permissions from 142 on.
GECKO_ANDROID_SETTINGS = {"strict_min_version": "142.0"}
CHROMIUM_ONLY_KEYS = ("minimum_chrome_version",)


def background_scripts(manifest: dict) -> list[str]:
    """The service worker's importScripts list, as extension-root paths, then the worker itself."""
    worker = manifest["background"]["service_worker"]
    source = (EXTENSION_DIR / worker).read_text(encoding="utf-8")
    block = re.search(r"importScripts\((.*?)\);", source, re.DOTALL)
    if block is None:
        raise SystemExit(f"{worker}: no importScripts(...) list found")
    worker_dir = PurePosixPath(worker).parent
    scripts = []
    for relative in re.findall(r'"([^"]+\.js)"', block.group(1)):
        parts: list[str] = []
        for part in (worker_dir / relative).parts:
            if part == "..":
                parts.pop()
            else:
                parts.append(part)
        scripts.append("/".join(parts))
    return [*scripts, worker]


def firefox_manifest(manifest: dict) -> dict:
    """The Chromium manifest rewritten for Firefox."""
    result = {key: value for key, value in manifest.items() if key not in CHROMIUM_ONLY_KEYS}
    result["background"] = {"scripts": background_scripts(manifest)}
    result["browser_specific_settings"] = {"gecko": dict(GECKO_SETTINGS),
                                           "gecko_android": dict(GECKO_ANDROID_SETTINGS)}
    return result


def extension_files() -> list[Path]:
    files = []
    for path in sorted(EXTENSION_DIR.rglob("*")):
        relative = path.relative_to(EXTENSION_DIR)
        if (
            path.is_dir()
            or relative.parts[0] in LEFT_OUT_DIRS
            or any(p.startswith(".") for p in relative.parts)
        ):
            continue
        if relative.as_posix() != "manifest.json":
            files.append(path)
    return files


def write_zip(target: Path, manifest: dict) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    entries = [
        ("manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
    ]
    entries += [
        (path.relative_to(EXTENSION_DIR).as_posix(), path.read_bytes())
        for path in extension_files()
    ]
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "dist", help="output folder (default: dist/)"
    )
    args = parser.parse_args(argv)
    manifest = json.loads((EXTENSION_DIR / "manifest.json").read_text(encoding="utf-8"))
    chrome_zip, firefox_zip = args.out / "docvouch-chrome.zip", args.out / "docvouch-firefox.zip"
    write_zip(chrome_zip, manifest)
    write_zip(firefox_zip, firefox_manifest(manifest))
    print(f"wrote {chrome_zip} and {firefox_zip} (version {manifest['version']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
