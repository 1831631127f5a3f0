"""Fixtures for the deployment tests.

* ``loopback``: deploy/load/loopback.py (the topology harness, also used by the benchmark).
* ``topology``: two real ``docvouch serve`` replicas on the session's shared index (read
  only) and Debian's nginx in front, configured by the rendered deploy/nginx/docvouch.conf;
  all on 127.0.0.1, stopped at the end of the module.

A tool the tests need but cannot find (nginx, hadolint, ...) skips the test on a developer's
machine and fails it in CI (``CI`` set), so a missing install step cannot pass unnoticed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from deploy_support import API_KEY, DEPLOY, load_module, need

from docvouch.auth import hash_key


@pytest.fixture(scope="session")
def loopback() -> ModuleType:
    return load_module("docvouch_deploy_loopback", DEPLOY / "load" / "loopback.py")


@pytest.fixture(scope="session")
def nginx_binary(loopback: ModuleType) -> str:
    found = loopback.nginx_binary()
    need(found, "nginx (Debian package nginx)")
    return found


@pytest.fixture(scope="module")
def topology(loopback: ModuleType, nginx_binary: str, docvouch_home: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Replicas a and b (1 worker each, keys on) behind nginx; closed after the module."""
    topo = loopback.Topology(docvouch_home, tmp_path_factory.mktemp("topology"), replicas=2,
                             settings={"workers": 1, "api_keys": hash_key(API_KEY)})
    asyncio.run(topo.start())
    try:
        yield topo
    finally:
        topo.close()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}
