"""Schemathesis against the served ``/openapi.json`` of a real server process on loopback.

Every check schemathesis has runs on generated positive and negative requests for every
operation. ``not_a_server_error`` must never fail; invalid data must be refused with one of
the statuses the API documents for it (400, 413, 415, 422). Examples are bounded so the
module runs in well under 90 s.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from server_process import ServerProcess

pytestmark = pytest.mark.slow
READY_DEADLINE_S = 60.0
MAX_EXAMPLES = 60
MAX_NAME_CHARS = 100  # the documented maxLength of a corpus name
LOADED_CORPUS = "mini"  # published by the service_home fixture
CONFIG = {
    "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
    "request-timeout": 15,
    "checks": {
        "negative_data_rejection": {"expected-statuses": ["400", "413", "415", "422"]},
    },
}


def wait_ready(base: str, deadline_s: float = READY_DEADLINE_S) -> None:
    """Poll /readyz until 200 (the server process maps its indexes first)."""
    end = time.monotonic() + deadline_s
    last = ""
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise AssertionError(f"server not ready after {deadline_s} s: {last}")


@pytest.fixture(scope="module")
def served(service_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("schemathesis") / "server.log"
    with ServerProcess(service_home, log, workers=2) as server:
        try:
            wait_ready(server.base)
        except AssertionError:
            raise AssertionError(server.tail()) from None
        yield server.base
        # a server error would have a traceback in the log; there must be none
        assert "Traceback" not in server.tail(), server.tail()


@pytest.fixture(scope="module")
def api_schema(served: str) -> schemathesis.BaseSchema:
    config = SchemathesisConfig.from_dict(CONFIG)
    return schemathesis.openapi.from_url(served + "/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


def pin_corpus(case: schemathesis.Case) -> None:
    """Point a schema-valid corpus name at a loaded corpus.

    Which corpora exist is run-time state (a reload changes it), so the document types the
    name as a string and an unknown one gets 422 ``unknown_corpus``. Names of the wrong type
    or length are left alone: they are the negative cases.
    """
    def loaded(value: object) -> bool:
        return isinstance(value, str) and 1 <= len(value) <= MAX_NAME_CHARS

    options = case.body.get("options") if isinstance(case.body, dict) else None
    if isinstance(options, dict) and loaded(options.get("corpus")):
        options["corpus"] = LOADED_CORPUS
    if isinstance(case.query, dict) and loaded(case.query.get("corpus")):
        case.query["corpus"] = LOADED_CORPUS


@schema.parametrize()
def test_api_conforms_and_never_fails(case: schemathesis.Case) -> None:
    pin_corpus(case)
    case.call_and_validate()


def test_the_longest_valid_search_fits_the_request_line(served: str) -> None:
    """1,000 four-byte characters percent-encode to 12,000 bytes: over aiohttp's default
    request-line limit (8,190), which answered a schema-valid search with a plain 400."""
    query = urllib.parse.urlencode({"q": "\U0001f3fb" * 1000, "k": 50, "corpus": LOADED_CORPUS})
    with urllib.request.urlopen(f"{served}/v1/search?{query}", timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
