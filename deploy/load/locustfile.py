"""Locust load for RELIABILITY L2: users posting answers of three sizes to POST /v1/verify.

    locust -f deploy/load/locustfile.py --headless -u 200 -r 20 -t 5m --csv=out/load

The service is ``http://127.0.0.1:8765`` (``docvouch serve``'s default) unless ``--host``
names another, such as the proxy.

Each user sends, one after another, answers of about 2 KB (70% of requests), 20 KB (25%)
and 100 KB (5%; 100,000 characters, the service's ``max_answer_chars``: 102,400 would be
refused with 422). Answers are made of whole paragraphs and code blocks of the realistic
answers in ``bench/labelled/answers`` and ``bench/answers`` (another folder with
``--answers DIR``), taken from a random place, behind a first line that is different for
every request, so the result cache does not serve them: each is computed by a worker or
refused.

How responses are counted, in locust's statistics (and ``--csv`` files):

* ``200`` (JSON): a success, under ``verify 2KB`` / ``verify 20KB`` / ``verify 100KB``;
* ``503`` with ``Retry-After``: the service's documented back-pressure (its queue is full):
  **not a failure**; reported under its own name, ``verify 2KB 503`` and so on, so its
  latencies do not mix with those of the answers. The user then waits ``Retry-After``
  seconds (at most 10) before its next request, as the browser extension does;
  ``--ignore-retry-after`` makes it go on at once;
* anything else (other statuses, a 503 without ``Retry-After``, a connection error, no
  answer within 30 s) is a failure, named after the answer size, with the status and the
  problem code.

Between requests a user thinks for ``--think-time MIN,MAX`` seconds (default ``0.5,1.5``).
``DOCVOUCH_API_KEY``, when set, is sent as ``Authorization: Bearer KEY``.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from pathlib import Path

import gevent
from locust import HttpUser, events, task
from locust.stats import CSV_STATS_INTERVAL_SEC

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ANSWERS = [REPO / "bench" / "labelled" / "answers", REPO / "bench" / "answers"]
SIZES = {"2KB": 2_048, "20KB": 20_480, "100KB": 100_000}
MAX_RETRY_AFTER_S = 10.0
TIMEOUT_S = 30.0
WORDS = ("amber", "basalt", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "iris",
         "jasper", "kestrel", "lagoon", "marble", "nectar", "onyx", "prism", "quartz", "raven",
         "sierra", "tundra", "umber", "violet", "willow", "yarrow", "zephyr")

_request_ids = itertools.count(1)


@events.init_command_line_parser.add_listener
def _arguments(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--answers", default="", help="folder of markdown answers to draw "
                        "from (default: bench/labelled/answers and bench/answers)")
    parser.add_argument("--think-time", default="0.5,1.5",
                        help="seconds a user waits between requests: MIN,MAX")
    parser.add_argument("--ignore-retry-after", action="store_true", default=False,
                        help="do not wait Retry-After seconds after a 503")


@events.test_stop.add_listener
def _final_csv(environment, **_kwargs) -> None:  # type: ignore[no-untyped-def]
    """Locust rewrites the ``--csv`` files every CSV_STATS_INTERVAL_SEC and not at exit, so
    they could miss the last second: once the users are stopped, wait for one more pass."""
    if getattr(environment.parsed_options, "csv_prefix", None):
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.5)


def blocks_of(text: str) -> list[str]:
    """Blank-line separated blocks, a fenced code block kept whole."""
    out: list[str] = []
    pending = ""
    for part in text.strip().split("\n\n"):
        pending = f"{pending}\n\n{part}" if pending else part
        if pending.count("```") % 2 == 0:
            out.append(pending)
            pending = ""
    if pending:
        out.append(pending)
    return out


def load_blocks(folders: list[Path]) -> list[str]:
    blocks: list[str] = []
    for folder in folders:
        for path in sorted(folder.glob("*.md")):
            blocks += blocks_of(path.read_text(encoding="utf-8"))
    if not blocks:
        raise SystemExit(f"no markdown answers found in {', '.join(map(str, folders))}")
    return blocks


_blocks_cache: dict[str, list[str]] = {}


def blocks_for(folder: str) -> list[str]:
    if folder not in _blocks_cache:
        _blocks_cache[folder] = load_blocks([Path(folder)] if folder else DEFAULT_ANSWERS)
    return _blocks_cache[folder]


def build_answer(blocks: list[str], target: int, rng: random.Random, request_id: int) -> str:
    """An answer of at most ``target`` characters (and close to it) that no other request
    sends: a unique first line, then consecutive blocks from a random place."""
    first = (f"Answer {request_id} ({rng.choice(WORDS)} {rng.choice(WORDS)}): here is how "
             "to do it with the standard library.")
    parts = [first]
    size = len(first)
    index = rng.randrange(len(blocks))
    misses = 0
    while misses < 8:
        block = blocks[index % len(blocks)]
        index += 1
        if size + 2 + len(block) > target:
            misses += 1  # try a few shorter blocks to get closer to the target
            continue
        parts.append(block)
        size += 2 + len(block)
    return "\n\n".join(parts)


class VerifyUser(HttpUser):
    """One user of the service: an extension that checks answers as they are read."""

    host = "http://127.0.0.1:8765"  # docvouch serve's default; --host overrides

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.blocks = blocks_for(getattr(options, "answers", "") or "")
        think = str(getattr(options, "think_time", "0.5,1.5") or "0.5,1.5")
        low, _, high = think.partition(",")
        self.think = (float(low), float(high or low))
        self.honour_retry_after = not getattr(options, "ignore_retry_after", False)
        self.rng = random.Random()
        self.headers = {"Content-Type": "application/json"}
        key = os.environ.get("DOCVOUCH_API_KEY")
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.pause_s = 0.0

    def wait_time(self) -> float:
        pause, self.pause_s = self.pause_s, 0.0
        return pause + self.rng.uniform(*self.think)

    def verify(self, size: str) -> None:
        text = build_answer(self.blocks, SIZES[size], self.rng, next(_request_ids))
        name = f"verify {size}"
        with self.client.post("/v1/verify", json={"text": text, "source": {"site": "locust"}},
                              headers=self.headers, name=name, timeout=TIMEOUT_S,
                              catch_response=True) as response:
            status = response.status_code
            if status == 200 and response.headers.get("Content-Type", "").startswith(
                    "application/json"):
                response.success()
            elif status == 503 and response.headers.get("Retry-After"):
                response.request_meta["name"] = f"{name} 503"  # its own row, not a failure
                response.success()
                if self.honour_retry_after:
                    self.pause_s = min(MAX_RETRY_AFTER_S,
                                       float(response.headers["Retry-After"]))
            elif status == 0:
                response.failure(f"no response: {type(response.error).__name__}")
            else:
                response.failure(f"HTTP {status} {problem_code(response)}")

    @task(70)
    def verify_2kb(self) -> None:
        self.verify("2KB")

    @task(25)
    def verify_20kb(self) -> None:
        self.verify("20KB")

    @task(5)
    def verify_100kb(self) -> None:
        self.verify("100KB")


def problem_code(response) -> str:  # type: ignore[no-untyped-def]
    """The problem+json ``code`` of an error response, or a short marker."""
    try:
        return str(response.json().get("code", "?"))
    except Exception:
        return "(not problem+json)"


if __name__ == "__main__":  # a quick look at the answers it sends
    rng = random.Random(1)
    blocks = load_blocks(DEFAULT_ANSWERS)
    for size, target in SIZES.items():
        text = build_answer(blocks, target, rng, 0)
        print(f"{size}: {len(text):,} characters, {len(text.encode()):,} bytes "
              f"(target {target:,})")
    started = time.perf_counter()
    for i in range(100):
        build_answer(blocks, SIZES["100KB"], rng, i)
    print(f"building a 100 KB answer takes {(time.perf_counter() - started) * 10:.2f} ms")
