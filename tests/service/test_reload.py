"""Index builds come and go: admin reload, corrupt builds refused, a bad corpus kept apart,
and a start-up interrupted at any point leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import time
from multiprocessing import forkserver, resource_tracker
from pathlib import Path

from server_process import alive, descendants
from service_support import copy_home, publish_mini, settings_for

from docvouch.app import create_app
from docvouch.auth import hash_key

ADMIN = "dv_admin_for_reload_tests"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def corrupt(build: Path) -> None:
    """Truncate a checksummed file, as a disk error or an interrupted copy would."""
    target = build / "passages.bin"
    target.write_bytes(target.read_bytes()[:-10])


async def corpora(client) -> dict[str, str]:
    async with client.get("/v1/corpus") as response:
        return {c["name"]: c["build"] for c in (await response.json())["corpora"]}


async def test_admin_reload_swaps_in_a_new_build(make_client, service_home: Path,
                                                 tmp_path: Path) -> None:
    home = copy_home(service_home, tmp_path / "home")
    client = await make_client(home=home, workers=1, admin_keys=(hash_key(ADMIN),))
    async with client.post("/v1/admin/reload", headers=ADMIN_HEADERS) as response:
        assert (await response.json())["changed"] is False
    new = publish_mini(home)
    async with client.post("/v1/admin/reload", headers=ADMIN_HEADERS) as response:
        body = await response.json()
    assert response.status == 200
    assert body == {"changed": True, "corpora": await corpora(client), "refused": {}}
    assert body["corpora"]["mini"] == new.name
    body = {"text": "Call `widgets.frobnicate(level=1)`.", "options": {"corpus": "mini"}}
    async with client.post("/v1/verify", json=body) as response:
        assert response.status == 200


async def test_a_corrupt_new_build_is_refused_and_the_old_one_keeps_serving(
        make_client, service_home: Path, tmp_path: Path) -> None:
    home = copy_home(service_home, tmp_path / "home")
    client = await make_client(home=home, workers=1, admin_keys=(hash_key(ADMIN),))
    before = await corpora(client)
    corrupt(publish_mini(home))
    async with client.post("/v1/admin/reload", headers=ADMIN_HEADERS) as response:
        body = await response.json()
    assert response.status == 200
    assert body["changed"] is False
    assert "checksum" in body["refused"]["mini"]
    assert await corpora(client) == before
    body = {"text": "Call `widgets.frobnicate(level=1)`.", "options": {"corpus": "mini"}}
    async with client.post("/v1/verify", json=body) as response:
        assert response.status == 200


async def test_a_corrupt_corpus_at_start_is_unavailable_and_the_others_serve(
        make_client, service_home: Path, tmp_path: Path) -> None:
    home = copy_home(service_home, tmp_path / "home")
    corrupt((home / "indexes" / "mini" / "current").resolve())
    client = await make_client(home=home, workers=1)
    async with client.get("/v1/corpus") as response:
        body = await response.json()
    assert [c["name"] for c in body["corpora"]] == ["python"]
    assert body["unavailable"][0]["name"] == "mini"
    assert "checksum" in body["unavailable"][0]["detail"]
    async with client.post("/v1/verify", json={"text": "x", "options": {"corpus": "mini"}}) as r:
        assert r.status == 422
        assert (await r.json())["code"] == "unknown_corpus"
    async with client.post("/v1/verify", json={"text": "Use `os.getcwd()`."}) as response:
        assert response.status == 200


async def test_a_home_without_any_index_stays_up_and_says_why(make_client,
                                                              empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False)
    async with client.get("/healthz") as response:
        assert response.status == 200
    end = time.monotonic() + 10  # the load task fails fast; poll until it has
    while time.monotonic() < end:
        async with client.get("/readyz") as response:
            problem = await response.json(content_type=None)
        if problem["state"] == "failed":
            break
        await asyncio.sleep(0.02)
    assert response.status == 503
    assert problem["state"] == "failed" and "no corpus index" in problem["detail"]
    for method, path, body in (("POST", "/v1/verify", {"text": "x"}),
                               ("GET", "/v1/search?q=json", None), ("GET", "/v1/corpus", None)):
        async with client.request(method, path, json=body) as response:
            problem = await response.json(content_type=None)
        assert (response.status, problem["code"], problem["state"]) == (503, "not_ready",
                                                                          "failed"), path
        assert "failed to load" in problem["detail"] and "reload" in problem["detail"]
        assert "not loaded yet" not in problem["detail"]


def forkserver_children() -> set[int]:
    """Live processes under this test process (the forkserver and the workers it forked)."""
    return {pid for pid in descendants(os.getpid()) if alive(pid)}


async def test_stopping_while_workers_start_leaves_no_process_behind(
        aiohttp_client, service_home: Path) -> None:
    before = forkserver_children()
    for delay_s in (0.0, 0.05, 0.2):
        client = await aiohttp_client(create_app(settings_for(service_home, workers=2)))
        await asyncio.sleep(delay_s)  # stop at several points of the start-up
        await client.close()
    end = time.monotonic() + 10
    while forkserver_children() - before and time.monotonic() < end:
        await asyncio.sleep(0.05)
    leftover = forkserver_children() - before
    # multiprocessing's forkserver and resource tracker may have started with this test;
    # they live as long as the test process and are not leaks.
    assert leftover <= multiprocessing_helpers(), leftover


def multiprocessing_helpers() -> set[int]:
    pids = {getattr(forkserver._forkserver, "_forkserver_pid", None),
            getattr(resource_tracker._resource_tracker, "_pid", None)}
    return {pid for pid in pids if pid}
