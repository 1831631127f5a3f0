"""Fixtures for the HTTP service tests.

* ``service_home``: a copy of the session's default-corpus home (tests/conftest.py builds it
  once) plus a tiny second corpus, ``mini``; tests that publish or reload use their own copy,
  so the shared home other suites read is never written.
* ``shared``: one real server from ``create_app`` (2 workers) on the session's event loop,
  for every test that does not need its own settings. Modules using it run their tests on
  the session loop (``pytestmark = pytest.mark.asyncio(loop_scope="session")``).
* ``make_client``: a fresh app with given settings on the test's own loop (pytest-aiohttp).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from service_support import copy_home, publish_mini, settings_for, wait_ready

from docvouch.app import create_app


@pytest.fixture(scope="session")
def service_home(docvouch_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default corpus plus ``mini``, in a home only the service tests use."""
    home = copy_home(docvouch_home, tmp_path_factory.mktemp("service") / "home")
    publish_mini(home)
    return home


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def shared(service_home: Path) -> AsyncIterator[TestClient]:
    """One ready server with default limits, shared by the read-only API tests."""
    app = create_app(settings_for(service_home))
    server = TestServer(app, host="127.0.0.1")
    async with TestClient(server) as client:
        await wait_ready(client)
        yield client


MakeClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def make_client(aiohttp_client: Any, service_home: Path) -> MakeClient:
    """``await make_client(**settings)``: a client on a fresh app, waited ready if ``ready``."""

    async def make(*, ready: bool = True, home: Path | None = None, server_kwargs: Any = None,
                   **overrides: Any) -> TestClient:
        settings = settings_for(home or service_home, **overrides)
        client = await aiohttp_client(create_app(settings), server_kwargs=server_kwargs or {})
        if ready:
            await wait_ready(client)
        return client

    return make


@pytest.fixture
def empty_home(tmp_path: Path) -> Path:
    """A home with no corpus: the app starts at once and stays not-ready (no workers)."""
    home = tmp_path / "empty-home"
    home.mkdir()
    return home
