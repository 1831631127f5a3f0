"""SSRF: the crawler's fetcher refuses every address of the reliability plan before sending.

A local listener counts connections and must see zero. A guard on the event loop's
``sock_connect`` records every connection attempt and blocks any to a non-loopback address,
so a regression can never send traffic to a private or public range from a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from docvouch.ingest.fetch import Fetcher, FetchPolicy, FetchRefused, check_url, ip_literal


class Listener:
    """A TCP listener on 127.0.0.1 and ::1 (one port) that counts accepted connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.servers: list[asyncio.AbstractServer] = []
        self.port = 0

    async def _count(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def start(self) -> None:
        first = await asyncio.start_server(self._count, "127.0.0.1", 0)
        self.port = first.sockets[0].getsockname()[1]
        self.servers.append(first)
        with contextlib.suppress(OSError):  # no IPv6 loopback: [::1] reaches nothing anyway
            self.servers.append(await asyncio.start_server(self._count, "::1", self.port))

    async def close(self) -> None:
        for server in self.servers:
            server.close()
            await server.wait_closed()


@pytest.fixture
def connect_attempts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address the event loop is asked to connect to; non-loopback ones are blocked."""
    attempts: list[Any] = []
    original = asyncio.selector_events.BaseSelectorEventLoop.sock_connect

    async def guarded(self: Any, sock: socket.socket, address: Any) -> None:
        attempts.append(address)
        if not ipaddress.ip_address(address[0].split("%", 1)[0]).is_loopback:
            raise OSError(f"test guard: connection to {address[0]} blocked")
        await original(self, sock, address)

    monkeypatch.setattr(asyncio.selector_events.BaseSelectorEventLoop, "sock_connect", guarded)
    return attempts


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    counting = Listener()
    await counting.start()
    yield counting
    await counting.close()


REFUSED = [
    "http://127.0.0.1:{port}/", "http://2130706433:{port}/", "http://017700000001:{port}/",
    "http://127.1:{port}/", "http://0x7f.1:{port}/", "http://0.0.0.0:{port}/",
    "http://[::1]:{port}/", "http://[::ffff:127.0.0.1]:{port}/", "http://localhost:{port}/",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://172.16.0.1/",
    "http://192.168.0.1/", "http://[fe80::1]/", "http://100.64.0.1/", "http://[fc00::1]/",
    "http://evil@127.0.0.1:{port}/", "http://user:pass@docs.example.org/",
    "file:///etc/passwd", "gopher://127.0.0.1:{port}/_", "ftp://127.0.0.1:{port}/",
]


@pytest.mark.parametrize("template", REFUSED)
async def test_refused_before_any_byte_is_sent(template: str, listener: Listener,
                                               connect_attempts: list[Any]) -> None:
    url = template.format(port=listener.port)
    async with Fetcher(FetchPolicy()) as fetcher:
        with pytest.raises(FetchRefused) as refused:
            await fetcher.fetch(url)
    await asyncio.sleep(0.05)
    assert listener.connections == 0
    assert connect_attempts == []
    assert refused.value.reason


@pytest.mark.parametrize(("host", "address"), [
    ("2130706433", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"), ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
    ("docs.python.org", None), ("1.2.3.example", None),
])
def test_every_spelling_of_an_ip_literal_is_recognised(host: str, address: str | None) -> None:
    found = ip_literal(host)
    assert (str(found) if found else None) == address


def test_allow_private_lifts_the_address_rule_but_not_the_scheme_rule() -> None:
    permissive = FetchPolicy(allow_private=True)
    assert str(check_url("http://127.0.0.1:8080/docs/", permissive)) == \
        "http://127.0.0.1:8080/docs/"
    with pytest.raises(FetchRefused):
        check_url("file:///etc/passwd", permissive)


async def _redirecting_site(listener_port: int, hops: int) -> tuple[web.AppRunner, int, list[str]]:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path == "/to-loopback":
            raise web.HTTPFound(f"http://127.0.0.1:{listener_port}/secret")
        step = int(request.path.rsplit("/", 1)[-1] or 0) if request.path.startswith("/r/") \
            else 0
        if request.path.startswith("/r/") and step < hops:
            raise web.HTTPFound(f"/r/{step + 1}")
        return web.Response(text="<html><body><main><p>arrived</p></main></body></html>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port, seen


async def test_redirect_to_loopback_is_refused_at_the_redirect(
        listener: Listener, connect_attempts: list[Any]) -> None:
    runner, port, seen = await _redirecting_site(listener.port, hops=0)
    try:
        # The redirecting site stands in for a public host: only its own host:port is exempt.
        policy = FetchPolicy(allowed_hosts=frozenset({f"127.0.0.1:{port}"}))
        async with Fetcher(policy) as fetcher:
            with pytest.raises(FetchRefused, match="loopback"):
                await fetcher.fetch(f"http://127.0.0.1:{port}/to-loopback")
    finally:
        await runner.cleanup()
    assert seen == ["/to-loopback"]
    assert listener.connections == 0
    assert all(address[1] == port for address in connect_attempts)


async def test_a_third_redirect_is_refused(connect_attempts: list[Any]) -> None:
    runner, port, seen = await _redirecting_site(0, hops=3)
    try:
        policy = FetchPolicy(allowed_hosts=frozenset({f"127.0.0.1:{port}"}))
        async with Fetcher(policy) as fetcher:
            with pytest.raises(FetchRefused, match="more than 2 redirects"):
                await fetcher.fetch(f"http://127.0.0.1:{port}/r/0")
            two = await fetcher.fetch(f"http://127.0.0.1:{port}/r/1")  # two hops: fine
            assert two.status == 200 and two.url.endswith("/r/3")
    finally:
        await runner.cleanup()
    assert seen[:3] == ["/r/0", "/r/1", "/r/2"] and "/r/3" not in seen[:3]


class FlippingResolver(AbstractResolver):
    """Answers with a public address first, then with loopback (DNS rebinding)."""

    def __init__(self, answers: list[list[str]]) -> None:
        self.answers = answers
        self.calls = 0

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        addresses = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [{"hostname": host, "host": a, "port": port,
                 "family": socket.AF_INET6 if ":" in a else socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST} for a in addresses]

    async def close(self) -> None:
        return None


async def test_dns_rebinding_is_vetted_again_at_connect_time(
        listener: Listener, connect_attempts: list[Any]) -> None:
    resolver = FlippingResolver([["93.184.216.34"], ["127.0.0.1"]])
    async with Fetcher(FetchPolicy(), resolver=resolver) as fetcher:
        with pytest.raises(FetchRefused, match=r"127\.0\.0\.1"):
            await fetcher.fetch(f"http://rebind.example:{listener.port}/")
    assert resolver.calls == 2  # the pre-flight answer, then the connector's own
    assert listener.connections == 0 and connect_attempts == []


async def test_a_name_with_one_private_answer_is_refused(
        listener: Listener, connect_attempts: list[Any]) -> None:
    resolver = FlippingResolver([["93.184.216.34", "10.1.2.3"]])
    async with Fetcher(FetchPolicy(), resolver=resolver) as fetcher:
        with pytest.raises(FetchRefused, match="private"):
            await fetcher.fetch("http://mixed.example/")
    assert connect_attempts == []


async def test_an_oversized_body_is_cut_off(connect_attempts: list[Any]) -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 200_000, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", big)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with Fetcher(FetchPolicy(allow_private=True, max_bytes=100_000)) as fetcher:
            with pytest.raises(FetchRefused, match="cap"):
                await fetcher.fetch(f"http://127.0.0.1:{port}/")
    finally:
        await runner.cleanup()
