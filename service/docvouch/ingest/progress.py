"""Progress on stderr while an ingest runs, and the summary it ends with.

On a terminal a tqdm bar shows pages done, the rate and the time left; elsewhere (CI logs,
the service's build log) one plain line every few seconds says the same without control
characters. The summary lists pages, passages, symbols and every skipped page with its
reason, so a user sees what was *not* indexed, not only what was.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

SKIPPED_SHOWN = 25  # skipped pages listed one per line; the rest are counted


class Reporter:
    """Receives progress from an ingest; the base class says nothing."""

    def start(self, total: int | None, label: str) -> None:
        """A phase with ``total`` steps (None: unknown) begins."""

    def advance(self, steps: int = 1, *, note: str = "") -> None:
        """``steps`` more steps of the current phase are done."""

    def message(self, line: str) -> None:
        """A line of information between phases."""

    def close(self) -> None:
        """The current phase is over."""


class StreamReporter(Reporter):
    """A tqdm bar on a terminal, else a plain line at most every ``interval_s`` seconds."""

    def __init__(self, stream: TextIO | None = None, *, bar: bool | None = None,
                 interval_s: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.use_bar = self.stream.isatty() if bar is None else bar
        self.interval_s = interval_s
        self._bar: Any = None
        self._label = ""
        self._done = 0
        self._total: int | None = None
        self._last = 0.0

    def start(self, total: int | None, label: str) -> None:
        self.close()
        self._label, self._done, self._total, self._last = label, 0, total, time.monotonic()
        if self.use_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, unit="page", file=self.stream,
                             dynamic_ncols=True, leave=False, mininterval=0.2)

    def advance(self, steps: int = 1, *, note: str = "") -> None:
        self._done += steps
        if self._bar is not None:
            self._bar.update(steps)
            if note:
                self._bar.set_postfix_str(note[-40:], refresh=False)
            return
        now = time.monotonic()
        if now - self._last >= self.interval_s or self._done == self._total:
            self._last = now
            total = f"/{self._total:,}" if self._total else ""
            self._line(f"{self._label}: {self._done:,}{total}")

    def message(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(f"docvouch: {line}", file=self.stream)
        else:
            self._line(line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _line(self, text: str) -> None:
        print(f"docvouch: {text}", file=self.stream, flush=True)


def render_summary(summary: dict[str, Any]) -> str:
    """The human summary printed after an ingest."""
    lines = [
        f"corpus {summary['name']} {summary.get('version') or ''}".rstrip()
        + f": {summary['passages']:,} passages, {summary['symbols']:,} symbols "
          f"from {summary['pages']:,} pages in {summary['seconds']:.1f} s",
        f"  pages: {summary['extracted']:,} extracted, {summary['reused']:,} unchanged "
        f"(reused), {summary['removed']:,} removed since the last build, "
        f"{len(summary['skipped']):,} skipped",
    ]
    if summary.get("full_reason"):
        lines.append(f"  full extraction: {summary['full_reason']}")
    if summary.get("index_bytes"):
        lines.append(f"  index: {summary['index_bytes'] / 1e6:.1f} MB at {summary['path']}")
    for item in summary["skipped"][:SKIPPED_SHOWN]:
        lines.append(f"  skipped {item['key']}: {item['reason']}")
    hidden = len(summary["skipped"]) - SKIPPED_SHOWN
    if hidden > 0:
        lines.append(f"  … and {hidden:,} more skipped (--format json lists them all)")
    return "\n".join(lines)
