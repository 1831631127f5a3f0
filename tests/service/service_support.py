"""Helpers shared by the service tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientConnectorError, ClientSession
from aiohttp.test_utils import TestClient

from docvouch.index import build_index
from docvouch.passages import Passage, Symbol
from docvouch.settings import Settings, build_settings
from docvouch.store import publish

READY_DEADLINE_S = 60.0
MAX_ANSWER_CHARS = 100_000

MINI_PASSAGES = [
    Passage(id="mini:frobnicate", url="https://mini.example/api.html#frobnicate",
            title="widgets.frobnicate(level)",
            text="Frobnicate the widget at the given level. The level must be between 1 and 9.",
            source="mini", version="1.0", symbol="widgets.frobnicate"),
    Passage(id="mini:widgets", url="https://mini.example/api.html#module-widgets",
            title="widgets", text="The widgets module builds and frobnicates widgets.",
            source="mini", version="1.0", symbol="widgets"),
]
MINI_SYMBOLS = [
    Symbol(name="widgets", kind="module", passage=1),
    Symbol(name="widgets.frobnicate", kind="function", passage=0, params=["level"],
           signature="widgets.frobnicate(level)"),
]


def publish_mini(home: Path, name: str = "mini") -> Path:
    """Publish a two-passage corpus under ``home`` (a second corpus for multi-corpus tests)."""
    return publish(home, name, lambda tmp: build_index(
        tmp, MINI_PASSAGES, MINI_SYMBOLS,
        corpus={"name": name, "version": "1.0", "title": "Mini widgets docs"}))


def copy_home(source: Path, target: Path) -> Path:
    """A private copy of a DocVouch home (relative 'current' symlinks stay valid)."""
    shutil.copytree(source, target, symlinks=True,
                    ignore=shutil.ignore_patterns(".lock", ".tmp-*"))
    return target


def settings_for(home: Path, **overrides: Any) -> Settings:
    """Test settings: the given home, 2 workers, no first-run build, plus ``overrides``."""
    raw: dict[str, Any] = {"home": str(home), "workers": 2, "build_default_index": False,
                           "log_format": "json"}
    raw.update(overrides)
    return build_settings(raw)


async def wait_ready(client: TestClient | ClientSession, base: str = "",
                     deadline_s: float = READY_DEADLINE_S) -> None:
    """Poll /readyz until 200; fail with its last problem after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        try:
            async with client.get(base + "/readyz") as response:
                if response.status == 200:
                    return
                last = await response.json(content_type=None)
                if last.get("state") == "failed":
                    raise AssertionError(f"service failed to load: {last}")
        except ClientConnectorError as exc:  # a child process not listening yet
            last = str(exc)
        await asyncio.sleep(0.05)
    raise AssertionError(f"not ready after {deadline_s} s: {last}")


def answer_of(words: int, seed: int = 0) -> str:
    """A realistic markdown answer of about ``words`` words, distinct per ``seed``."""
    base = ANSWER_TEMPLATE.split()
    text: list[str] = []
    while len(text) < words:
        text.extend(base)
    body = " ".join(text[:words])
    return f"Answer {seed}: {body}\n\nVariant marker {seed}."


ANSWER_TEMPLATE = """
To check whether a path is a directory use `os.path.isdir(path)`. You can create nested
folders with `os.makedirs(path, exist_ok=True)`. The `json.dumps` function accepts an
`indent` argument to pretty print. Use `subprocess.run(cmd, check=True, capture_output=True)`
to run a command and raise on failure. The `collections.Counter` class counts hashable items
and `most_common(n)` returns the n most common. Read a CSV file with `csv.DictReader`.
Sorting in reverse is done with `sorted(items, reverse=True)`. Since Python 3.8 the walrus
operator is available. The `functools.lru_cache` decorator memoises a function.
"""


def max_size_answer(seed: int) -> str:
    """A realistic answer of exactly max_answer_chars, distinct per seed (no cache hits)."""
    return answer_of(MAX_ANSWER_CHARS // 6, seed=seed)[:MAX_ANSWER_CHARS - 20] \
        + f"\n\nEnd {seed:08d}."
