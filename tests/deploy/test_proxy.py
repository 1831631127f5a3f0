"""The real topology on loopback: two replicas on one shared index, Debian's nginx in front
with the rendered deploy/nginx/docvouch.conf (fixtures in conftest.py). No mocks: every
request goes client → nginx → ``docvouch serve`` and back over 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import ssl
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import jsonschema
import orjson
import pytest
from deploy_support import need

from docvouch.openapi import openapi_document
from docvouch.settings import build_settings

MiB = 1024 * 1024
pytestmark = pytest.mark.timeout(120)


def log_by_id(nginx: Any) -> dict[str, dict[str, Any]]:
    return {line["request_id"]: line for line in nginx.log()}


def final_upstream(line: dict[str, Any]) -> str:
    """The replica that gave the response nginx passed on (the last attempt)."""
    return line["upstream_addr"].split(", ")[-1]


def padded_body(size: int) -> bytes:
    """A valid verify request of exactly ``size`` bytes (JSON allows trailing spaces)."""
    head = orjson.dumps({"text": "Use `json.dumps(obj, indent=2)` to pretty-print JSON."})
    return head + b" " * (size - len(head))


def problem_validator() -> jsonschema.Draft202012Validator:
    """The service's own Problem schema, from its OpenAPI document."""
    document = openapi_document(build_settings({}))
    return jsonschema.Draft202012Validator(document["components"]["schemas"]["Problem"])


async def test_requests_pass_through_with_keys_ids_and_the_same_limits(
        topology: Any, auth: dict[str, str]) -> None:
    nginx = topology.nginx
    a, b = topology.members
    async with aiohttp.ClientSession() as session:
        async with session.get(nginx.base + "/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"

        # Keys are checked by the service behind the proxy: the header passes through.
        async with session.post(nginx.base + "/v1/verify", json={"text": "x"}) as response:
            assert response.status == 401
            assert response.headers["Content-Type"] == "application/problem+json"

        # One request id across client, proxy log and service log.
        async with session.post(nginx.base + "/v1/verify", headers={
                **auth, "X-Request-ID": "deploy-id-1"},
                json={"text": "Use `os.path.isdirectory(p)` to test for a folder."}) as response:
            assert response.status == 200, await response.text()
            assert response.headers["X-Request-ID"] == "deploy-id-1"
            body = await response.json()
            assert body["summary"]["contradicted"] >= 1
        # Without one, nginx makes one and the service echoes it.
        async with session.get(nginx.base + "/readyz") as response:
            assert response.status == 200
            generated = response.headers["X-Request-ID"]
            assert len(generated) == 32 and int(generated, 16) >= 0

        # Exactly max_body_bytes passes the proxy; one byte more is refused there, in the
        # service's problem shape, and never reaches a replica.
        exact = io.BytesIO(padded_body(MiB))
        async with session.post(nginx.base + "/v1/verify", data=exact, headers={
                **auth, "Content-Type": "application/json"}) as response:
            assert response.status == 200, await response.text()
        too_big = padded_body(MiB + 1)
        async with session.post(nginx.base + "/v1/verify", data=io.BytesIO(too_big), headers={
                **auth, "Content-Type": "application/json",
                "X-Request-ID": "too-big-1"}) as response:
            assert response.status == 413
            assert response.headers["Content-Type"] == "application/problem+json"
            from_proxy = await response.json(content_type=None)
        async with session.post(a.base + "/v1/verify", data=io.BytesIO(too_big), headers={
                **auth, "Content-Type": "application/json"}) as response:
            assert response.status == 413
            from_service = await response.json(content_type=None)
        for key in ("type", "title", "status", "code"):
            assert from_proxy[key] == from_service[key], key
        assert from_proxy["request_id"] == "too-big-1"
        validator = problem_validator()
        validator.validate(from_proxy)
        validator.validate(from_service)

        # Chunked bodies are counted too.
        async def chunks():
            for _ in range(17):
                yield b" " * (64 * 1024)
        async with session.post(nginx.base + "/v1/verify", data=chunks(), headers={
                **auth, "Content-Type": "application/json"}) as response:
            assert response.status == 413

        # Admin and metrics stay off the public side.
        for method, path in (("POST", "/v1/admin/reload"), ("GET", "/metrics")):
            async with session.request(method, nginx.base + path, headers=auth) as response:
                assert response.status == 403
                problem = await response.json(content_type=None)
                assert problem["code"] == "forbidden"
                validator.validate(problem)

    await asyncio.sleep(0.2)  # nginx writes the access log line after the response
    lines = log_by_id(nginx)
    assert final_upstream(lines["deploy-id-1"]) in {a.address, b.address}
    assert lines["too-big-1"]["status"] == 413 and lines["too-big-1"]["upstream_addr"] == ""
    seen = [line for r in (a, b) for line in r.log_lines()
            if line.get("event") == "request" and line.get("request_id") == "deploy-id-1"]
    assert len(seen) == 1 and seen[0]["status"] == 200
    assert not any(line.get("request_id") == "too-big-1" for r in (a, b)
                   for line in r.log_lines())


@pytest.mark.slow
async def test_slow_clients_are_dropped_by_the_proxy_not_by_the_service(
        topology: Any, auth: dict[str, str]) -> None:
    """RELIABILITY C2/C3: unfinished headers and a stalled body are closed by nginx after
    its 10 s timeouts; meanwhile /healthz through the proxy stays fast."""
    nginx = topology.nginx
    host, port = "127.0.0.1", nginx.port

    async def held_open(first_bytes: bytes) -> float:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(first_bytes)
        await writer.drain()
        started = time.monotonic()
        try:
            await asyncio.wait_for(reader.read(), timeout=20)  # until nginx closes it
        finally:
            writer.close()
        return time.monotonic() - started

    headers_only = b"GET /healthz HTTP/1.1\r\nHost: docvouch\r\nX-Slow: 1"
    stalled_body = (b"POST /v1/verify HTTP/1.1\r\nHost: docvouch\r\nX-Request-ID: slow-body-1\r\n"
                    b"Authorization: " + auth["Authorization"].encode() + b"\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Content-Length: " + str(MiB).encode() + b"\r\n\r\n{\"text\": \"")
    slow = asyncio.gather(held_open(headers_only), held_open(stalled_body))
    latencies = []
    async with aiohttp.ClientSession() as session:
        for _ in range(20):
            started = time.monotonic()
            async with session.get(nginx.base + "/healthz") as response:
                assert response.status == 200
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.3)
    header_s, body_s = await slow
    assert 8.0 <= header_s <= 14.0, header_s
    assert 8.0 <= body_s <= 14.0, body_s
    assert sorted(latencies)[len(latencies) // 2] < 0.1, latencies
    assert max(latencies) < 1.0, latencies
    await asyncio.sleep(0.2)
    line = log_by_id(nginx)["slow-body-1"]
    assert line["status"] == 408 and line["upstream_addr"] == ""
    assert not any(log.get("request_id") == "slow-body-1" for r in topology.members
                   for log in r.log_lines())


def test_tls_at_the_proxy(topology: Any, loopback: ModuleType, tmp_path: Path) -> None:
    """The template's TLS lines, turned on by render.py, serve HTTPS with a real certificate."""
    need(subprocess.run(["openssl", "version"], capture_output=True, check=False).returncode == 0,
         "openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    port = loopback.free_port()
    tls = loopback.Nginx(tmp_path / "nginx", [topology.members[0].address], port=port,
                         listen=f"127.0.0.1:{port} ssl", tls=(cert, key))
    checked = tls.check()
    assert checked.returncode == 0, checked.stderr
    tls.start()
    try:
        context = ssl.create_default_context(cafile=str(cert))

        async def get() -> tuple[int, str | None]:
            async with aiohttp.ClientSession() as session, session.get(
                    tls.base + "/healthz", ssl=context) as response:
                return response.status, response.headers.get("Strict-Transport-Security")

        status, hsts = asyncio.run(get())
        assert status == 200
        assert hsts and "max-age=" in hsts
    finally:
        tls.stop()


@pytest.mark.slow
async def test_failover_sigterm_one_replica_under_load_then_restart_it(
        topology: Any, loopback: ModuleType, auth: dict[str, str]) -> None:
    """SIGTERM replica a while clients post through nginx, then start it again: every
    request either succeeds or is one nginx reports as retried; b alone serves while a is
    down; then both serve."""
    nginx = topology.nginx
    a, b = topology.members
    load = loopback.Load(nginx.base, loopback.sample_answer, clients=6, headers=auth,
                         id_prefix="failover")
    running = asyncio.create_task(load.run(deadline_s=50))
    try:
        await asyncio.sleep(2.5)
        assert load.outcomes, "no traffic before the stop"
        t_term = time.monotonic()
        a.terminate()
        exit_code = await asyncio.to_thread(a.wait, 25)
        t_exit = time.monotonic()
        await asyncio.sleep(2.5)  # b alone
        t_restart = time.monotonic()
        a.start()
        await loopback.wait_ready(a.base, 60, alive=a.running)
        t_ready = time.monotonic()
        # Both serve again: wait (bounded) until a gives a response after its restart.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            lines = log_by_id(nginx)
            back = [o for o in load.outcomes if o.sent > t_ready and o.request_id in lines
                    and final_upstream(lines[o.request_id]) == a.address]
            if len(back) >= 3:
                break
            await asyncio.sleep(0.3)
        await asyncio.sleep(0.5)
    finally:
        load.stop.set()
        outcomes = await running
    await asyncio.sleep(0.3)
    lines = log_by_id(nginx)

    assert exit_code == 0, a.tail()
    assert t_exit - t_term < 16, "drain took longer than shutdown_timeout_s"
    assert len(outcomes) >= 50, len(outcomes)
    missing = [o.request_id for o in outcomes if o.request_id not in lines]
    assert not missing, f"requests absent from nginx's log: {missing[:5]}"

    retried = {rid for rid, line in lines.items()
               if rid.startswith("failover-") and ", " in line["upstream_addr"]}
    failed = [o for o in outcomes if o.status != 200]
    unexplained = [o for o in failed if o.request_id not in retried]
    assert not unexplained, [(o.request_id, o.status, o.error,
                              lines.get(o.request_id)) for o in unexplained[:5]]
    assert retried, "the stop was never seen by nginx: nothing to fail over"

    # While a was down, b served everything.
    alone = [o for o in outcomes if o.sent > t_exit and o.done < t_restart and o.status == 200]
    assert len(alone) >= 5, len(alone)
    assert {final_upstream(lines[o.request_id]) for o in alone} == {b.address}

    # After the restart, both serve again.
    after = [final_upstream(lines[o.request_id]) for o in outcomes
             if o.sent > t_ready and o.status == 200]
    assert after.count(a.address) >= 3, after
    assert after.count(b.address) >= 3, after

    assert "no live upstreams" not in nginx.errors()
    assert sum(1 for o in outcomes if o.status == 200) / len(outcomes) >= 0.99
    print(f"\nfailover: {len(outcomes)} requests, {len(retried)} retried by nginx, "
          f"{len(failed)} failed; a drained and exited {t_exit - t_term:.2f} s after "
          f"SIGTERM, ready {t_ready - t_restart:.2f} s after restart")


def test_no_replica_answering_gives_the_service_problem_shape_with_retry_after(
        loopback: ModuleType, nginx_binary: str, tmp_path: Path) -> None:
    """Every replica down: nginx's own error is a 503 problem with Retry-After, not a page."""
    dead = [f"127.0.0.1:{loopback.free_port()}", f"127.0.0.1:{loopback.free_port()}"]
    nginx = loopback.Nginx(tmp_path / "nginx", dead)
    nginx.start()
    try:
        async def call(method: str, path: str) -> tuple[int, dict[str, str], dict[str, Any]]:
            async with aiohttp.ClientSession() as session, session.request(
                    method, nginx.base + path, json={"text": "x"}) as response:
                return (response.status, dict(response.headers),
                        await response.json(content_type=None))

        validator = problem_validator()
        for method, path in (("POST", "/v1/verify"), ("GET", "/readyz")):
            status, headers, problem = asyncio.run(call(method, path))
            assert status == 503, (method, path)
            assert headers["Content-Type"] == "application/problem+json"
            assert headers["Retry-After"] == "2"
            assert problem["code"] == "upstream_unavailable"
            validator.validate(problem)
        assert all(line["status"] == 503 for line in nginx.log())
    finally:
        nginx.stop()
