"""The health port (health.py): /healthz and /readyz from a thread beside the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp
import orjson
import pytest
import structlog.testing
from server_process import ServerProcess, descendants
from service_support import wait_ready

from docvouch import listeners
from docvouch.errors import NotReadyError
from docvouch.health import HealthPort, publish_forever
from docvouch.settings import SettingsError, build_settings


def get(url: str) -> tuple[int, str, dict]:
    """A blocking GET (from a thread: the test's own event loop may be the one stalled)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], orjson.loads(
                response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], orjson.loads(exc.read())


def assert_hardened(headers: Mapping[str, str]) -> None:
    """The service port's hardening headers (response_headers.harden)."""
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")


@contextlib.asynccontextmanager
async def _ready_with_health_port(service_home: Path, tmp_path: Path
                                  ) -> AsyncIterator[tuple[ServerProcess, aiohttp.ClientSession]]:
    """A served process (one worker) with a health port, ready, and a session to call it."""
    with ServerProcess(service_home, tmp_path / "serve.log", workers=1,
                       health_port=True) as server:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, server.base)
            yield server, session


@pytest.mark.slow
async def test_the_health_port_answers_as_the_service_port_does(
        service_home: Path, tmp_path: Path) -> None:
    async with _ready_with_health_port(service_home, tmp_path) as (server, session):
        health_base = server.health_base
        await wait_ready(session, health_base)
        async with session.get(server.base + "/readyz") as main_ready, \
                session.get(health_base + "/readyz") as health_ready:
            main_body, health_body = await main_ready.json(), await health_ready.json()
        # the same readiness, published at most a tenth of a second apart
        assert health_body["corpora"] == main_body["corpora"]
        assert health_body["workers"]["alive"] == 1
        async with session.get(health_base + "/healthz",
                               headers={"X-Request-ID": "probe-7"}) as response:
            assert response.status == 200
            body = await response.json()
            assert body["status"] == "ok" and 0 <= body["loop_lag_ms"] < 10_000
            assert_hardened(response.headers)
            assert response.headers["X-Request-ID"] == "probe-7"
        async with session.get(health_base + "/healthz/") as response:
            assert response.status == 404
            assert "did you mean /healthz?" in (await response.json())["detail"]
        for method, path, status in (("GET", "/v1/corpus", 404), ("POST", "/healthz", 405)):
            async with session.request(method, health_base + path) as response:
                assert response.status == status
                assert response.content_type == "application/problem+json"
                body = await response.json()
                assert body["status"] == status
                assert_hardened(response.headers)
                assert body["request_id"] == response.headers["X-Request-ID"]
                assert len(body["request_id"]) == 32  # none sent: a fresh one
        listening = server.wait_for_log("listening")
        assert listening["health_urls"] == [health_base]


async def test_healthz_says_stalled_when_the_event_loop_stops_running() -> None:
    """The test's own loop plays the service's, publishing as serve does: while it is
    blocked, the health thread still answers, and says so; once it runs again, 200."""
    sockets = listeners.bind("127.0.0.1", 0, backlog=16)
    number = sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{number}"
    port = HealthPort(sockets, stall_s=1.0, started=time.monotonic())
    state = {"ready": False}

    def readiness() -> dict:
        if not state["ready"]:
            raise NotReadyError("not ready (loading): mapping the indexes", retry_after_s=2,
                                state="loading")
        return {"status": "ready"}

    port.publish(readiness)
    port.start()
    beat = asyncio.create_task(publish_forever(port, readiness))
    try:
        status, kind, body = await asyncio.to_thread(get, url + "/readyz")
        assert (status, kind, body["state"]) == (503, "application/problem+json", "loading")
        state["ready"] = True
        await asyncio.sleep(0.3)  # a few beats
        assert (await asyncio.to_thread(get, url + "/readyz"))[0] == 200

        answers: list[tuple[int, str, dict]] = []
        started = time.monotonic()
        # a thread probes the health port while this (the publishing) loop is blocked
        prober = asyncio.get_running_loop().run_in_executor(
            None, lambda: (time.sleep(1.6), answers.extend(
                [get(url + "/healthz"), get(url + "/readyz")])))
        time.sleep(2.5)  # the event loop does not run: no snapshot is published
        await prober
        assert time.monotonic() - started >= 2.5
        for status, kind, body in answers:
            assert (status, kind, body["code"]) == (503, "application/problem+json", "stalled")
            assert body["stalled_s"] >= 1.0 and "health_stall_s" in body["detail"]

        await asyncio.sleep(0.3)  # the loop runs again: beats resume
        status, _kind, body = await asyncio.to_thread(get, url + "/healthz")
        assert status == 200 and 0 <= body["loop_lag_ms"] < 1000
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        port.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", number), timeout=2)


def test_the_health_port_cannot_be_the_service_port() -> None:
    with pytest.raises(SettingsError, match="health_port"):
        build_settings({"port": 9000, "health_port": 9000})


@pytest.mark.slow
def test_a_taken_health_port_fails_the_start_with_a_reason(
        service_home: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with ServerProcess(service_home, tmp_path / "serve.log", workers=1,
                           health_port=busy) as server:
            assert server.wait(30) == 1
            failed = server.wait_for_log("start_failed")
    # the detail names the health port: the service's own port was free
    assert failed["detail"].startswith(f"[Errno 98] health_port {busy}:")
    assert "in use" in failed["detail"]
    assert "Traceback" not in server.log_path.read_text()


async def test_a_snapshot_that_cannot_be_built_is_logged_once_and_ages_into_stalled() -> None:
    port = HealthPort([], stall_s=0.5, started=time.monotonic())
    port.publish(lambda: {"status": "ready"})
    published = port.snapshot

    def broken() -> dict:
        raise RuntimeError("pool state unreadable")

    with structlog.testing.capture_logs() as logs:
        beat = asyncio.create_task(publish_forever(port, broken))
        await asyncio.sleep(0.35)  # three or four beats
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    assert port.snapshot is published  # not replaced by anything half-built
    assert [line["event"] for line in logs] == ["health_snapshot_failed"]
    assert "pool state unreadable" in logs[0]["detail"]


@pytest.mark.slow
async def test_while_the_service_drains_the_health_port_says_stopping_and_alive(
        service_home: Path, tmp_path: Path) -> None:
    async with _ready_with_health_port(service_home, tmp_path) as (server, session):
        # The server's children (the worker among them) are stopped, so the verify stays in
        # flight through the drain however fast the engine answers.
        children = descendants(server.pid)
        for pid in children:
            os.kill(pid, signal.SIGSTOP)
        try:
            async def verify() -> int:
                async with session.post(server.base + "/v1/verify",
                                        json={"text": "Use `os.getcwd()` here."}) as response:
                    await response.read()
                    return response.status

            in_flight = asyncio.create_task(verify())
            await asyncio.sleep(0.3)
            server.signal(signal.SIGTERM)
            await asyncio.to_thread(server.wait_for_log, "draining")
            status, _kind, ready = await asyncio.to_thread(get, server.health_base + "/readyz")
            alive = await asyncio.to_thread(get, server.health_base + "/healthz")
        finally:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        assert await in_flight == 200
        assert await asyncio.to_thread(server.wait, 20) == 0
    assert (status, ready["code"], ready["state"]) == (503, "not_ready", "stopping")
    assert alive[0] == 200
