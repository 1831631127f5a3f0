"""HTTP fetching for the crawler, refusing to be turned against the machine or its network.

Every request goes through the same checks, *before any byte is sent*:

1. the URL: ``http``/``https`` only, no user name or password in it, a host;
2. the host: an IP literal in any spelling (``2130706433``, ``017700000001``, ``127.1``,
   ``[::ffff:127.0.0.1]``) is normalised and must be a global address;
3. DNS: every address the name resolves to must be global (one private answer refuses the
   name: happy-eyeballs would otherwise fall back to it);
4. the connection: the connector's own resolver vets again, so a name that resolves to a
   public address at step 3 and to ``127.0.0.1`` when connecting (DNS rebinding) is refused,
   and the peer address of the open socket is checked once more;
5. redirects are followed by hand, at most two, each new location through steps 1-4.

Loopback, private, link-local (``169.254.169.254`` cloud metadata included), shared,
multicast, reserved and unspecified addresses are refused unless ``allow_private`` is set,
or the exact ``host:port`` is in ``allowed_hosts`` (an intranet docs server).
Bodies are read compressed (decompression happens in the capped extractor process) and
capped at ``max_bytes``; proxies and cookies from the environment are not used.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from trafilatura.utils import HAS_BROTLI, HAS_ZSTD
from yarl import URL

from docvouch import __version__

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECTS = (301, 302, 303, 307, 308)
USER_AGENT = f"DocVouch/{__version__} (documentation indexer)"
ACCEPT_ENCODING = ", ".join(["gzip", *(["br"] if HAS_BROTLI else []),
                             *(["zstd"] if HAS_ZSTD else [])])


class FetchRefused(Exception):
    """A request refused before it was sent (SSRF rules, scheme, redirect limit, size)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FetchFailed(Exception):
    """A request that was sent but gave nothing usable (HTTP error, timeout, reset)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FetchPolicy:
    """What may be fetched, and how much."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()  # "host:port" exempt from the address rules
    max_redirects: int = 2
    max_bytes: int = 5 * 1024 * 1024
    timeout_s: float = 30.0
    user_agent: str = USER_AGENT


@dataclass
class Fetched:
    """A response: the final URL, its status, the headers that matter, the raw body."""

    url: str
    status: int
    body: bytes = b""
    content_type: str = ""
    content_encoding: str = ""
    etag: str = ""
    last_modified: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def ip_literal(host: str) -> IPAddress | None:
    """The address a host string denotes, in any spelling a resolver would accept, or None.

    ``socket.inet_aton`` reads the legacy IPv4 forms (decimal, octal, hex, short) that
    ``ipaddress`` rejects but C resolvers and some HTTP stacks still connect to.
    """
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefABCDEFxX." for c in host) and \
            any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why an address may not be fetched from, or None if it is a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return None
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address (cloud metadata lives there)"
    if address.is_unspecified:
        return f"{address} is the unspecified address (this machine)"
    if address.is_private:
        return f"{address} is a private address"
    return f"{address} is not a public address"


def check_url(url: str | URL, policy: FetchPolicy) -> URL:
    """The URL, parsed, if it may be requested at all (no DNS yet); FetchRefused otherwise."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
    except (ValueError, TypeError) as exc:
        raise FetchRefused(f"not a URL: {url!r}") from exc
    if parsed.scheme not in ("http", "https"):
        raise FetchRefused(f"scheme {parsed.scheme or '(none)'!r} is not fetched; "
                           "only http and https")
    if parsed.user is not None or parsed.password is not None or "@" in (parsed.raw_authority
                                                                          or ""):
        raise FetchRefused("URLs with a user name or password are not fetched")
    host = parsed.raw_host or ""
    if not host:
        raise FetchRefused("URL has no host")
    literal = ip_literal(host)
    if literal is not None:
        _vet(literal, parsed, policy)
    return parsed


def _exempt(parsed: URL, policy: FetchPolicy) -> bool:
    return policy.allow_private or f"{parsed.raw_host}:{parsed.port}" in policy.allowed_hosts


def _vet(address: IPAddress, parsed: URL, policy: FetchPolicy) -> None:
    if _exempt(parsed, policy):
        return
    reason = address_refusal(address)
    if reason is not None:
        raise FetchRefused(f"{parsed.host}: {reason}; refused (--allow-private to permit)")


class VettingResolver(AbstractResolver):
    """The connector's resolver: every answer is vetted at connect time (DNS rebinding)."""

    def __init__(self, inner: AbstractResolver, policy: FetchPolicy) -> None:
        self.inner = inner
        self.policy = policy
        self.exempt: set[str] = set()  # "host:port" the policy exempts

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        answers = await self.inner.resolve(host, port, family)
        if self.policy.allow_private or f"{host}:{port}" in self.policy.allowed_hosts:
            return answers
        for answer in answers:
            reason = address_refusal(ipaddress.ip_address(answer["host"]))
            if reason is not None:
                raise FetchRefused(f"{host} resolves to {answer['host']}: {reason}; refused")
        return answers

    async def close(self) -> None:
        await self.inner.close()


class Fetcher:
    """An aiohttp session that fetches only what :class:`FetchPolicy` allows."""

    def __init__(self, policy: FetchPolicy | None = None, *,
                 resolver: AbstractResolver | None = None, limit: int = 8) -> None:
        self.policy = policy or FetchPolicy()
        self._inner = resolver
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._resolver: VettingResolver | None = None

    async def __aenter__(self) -> Fetcher:
        self._resolver = VettingResolver(self._inner or aiohttp.ThreadedResolver(), self.policy)
        # No DNS cache: every connection resolves, and is vetted, again.
        connector = aiohttp.TCPConnector(resolver=self._resolver, use_dns_cache=False,
                                         limit=self._limit, force_close=False)
        self._session = aiohttp.ClientSession(
            connector=connector, trust_env=False, auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=self.policy.timeout_s, sock_connect=10),
            headers={"User-Agent": self.policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, url: str, *, etag: str = "", last_modified: str = "",
                    accept: str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
                    ) -> Fetched:
        """GET ``url`` (conditional when ``etag``/``last_modified`` are given)."""
        assert self._session is not None, "use `async with Fetcher(...)`"
        current = check_url(url, self.policy)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for hop in range(self.policy.max_redirects + 1):
            await self._vet_dns(current)
            result = await self._request(current, headers)
            if result.status not in REDIRECTS:
                return result
            location = result.headers.get("location", "")
            if not location:
                raise FetchFailed(f"HTTP {result.status} without a Location header")
            if hop == self.policy.max_redirects:
                raise FetchRefused(f"more than {self.policy.max_redirects} redirects")
            current = check_url(current.join(URL(location)), self.policy)
        raise FetchRefused(f"more than {self.policy.max_redirects} redirects")  # pragma: no cover

    async def _vet_dns(self, parsed: URL) -> None:
        """Resolve before connecting, for a clear refusal (the connector vets again)."""
        host = parsed.raw_host or ""
        if ip_literal(host) is not None or _exempt(parsed, self.policy):
            return
        assert self._resolver is not None
        try:
            await self._resolver.resolve(host, parsed.port or 0, socket.AF_UNSPEC)
        except FetchRefused:
            raise
        except OSError as exc:
            raise FetchFailed(f"cannot resolve {host}: {exc.strerror or exc}") from exc

    async def _request(self, parsed: URL, headers: dict[str, str]) -> Fetched:
        assert self._session is not None
        try:
            async with self._session.get(parsed, headers=headers, allow_redirects=False,
                                         max_line_size=8190, max_field_size=8190) as resp:
                self._vet_peer(resp, parsed)
                result = Fetched(url=str(resp.url), status=resp.status,
                                 content_type=resp.headers.get("content-type", ""),
                                 content_encoding=resp.headers.get("content-encoding", ""),
                                 etag=resp.headers.get("etag", ""),
                                 last_modified=resp.headers.get("last-modified", ""),
                                 headers={k.lower(): v for k, v in resp.headers.items()})
                if resp.status in REDIRECTS or resp.status == 304:
                    return result
                if resp.status >= 400:
                    raise FetchFailed(f"HTTP {resp.status}")
                result.body = await self._read_capped(resp)
                return result
        except FetchRefused:
            raise
        except aiohttp.ClientConnectorError as exc:
            refused = _refusal_in(exc)
            if refused is not None:
                raise refused from exc
            raise FetchFailed(f"cannot connect: {exc.os_error.strerror or exc}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise FetchFailed(f"{type(exc).__name__}: {exc}"[:200]) from exc

    def _vet_peer(self, resp: aiohttp.ClientResponse, parsed: URL) -> None:
        connection = resp.connection
        transport = connection.transport if connection is not None else None
        peer: Any = transport.get_extra_info("peername") if transport is not None else None
        if not peer or _exempt(parsed, self.policy):
            return
        reason = address_refusal(ipaddress.ip_address(peer[0].split("%", 1)[0]))
        if reason is not None:
            resp.close()
            raise FetchRefused(f"{parsed.host} connected to {peer[0]}: {reason}; refused")

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        cap = self.policy.max_bytes
        if resp.content_length is not None and resp.content_length > cap:
            raise FetchRefused(f"body of {resp.content_length:,} bytes is over the "
                               f"{cap:,}-byte cap (not read)")
        chunks, size = [], 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > cap:
                raise FetchRefused(f"body over the {cap:,}-byte cap (stopped reading)")
            chunks.append(chunk)
        return b"".join(chunks)


def _refusal_in(exc: BaseException) -> FetchRefused | None:
    """The FetchRefused aiohttp wrapped in a connector error, if that is what happened."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, FetchRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
