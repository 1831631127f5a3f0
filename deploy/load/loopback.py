#!/usr/bin/env python3
"""A real proxy topology on loopback: N ``docvouch serve`` replicas behind nginx.

Used by tests/deploy (failover under load) and bench/topology.py (answers/s through the
proxy); also a way to try the proxy setup on one machine before deploying it:

    python deploy/load/loopback.py --replicas 2 --clients 6 --seconds 20
    python deploy/load/loopback.py --rounds 5 --seconds 9    # SIGTERM + restart under load

Everything binds to 127.0.0.1 on free ports. nginx runs in the foreground as a child
(``daemon off``) with deploy/nginx/docvouch.conf rendered by deploy/nginx/render.py, inside
a small main-context wrapper that points its pid, logs and temporary paths at a scratch
directory. Every process started here is stopped by ``close()``, by its own id.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

DEPLOY = Path(__file__).resolve().parents[1]
RENDER = DEPLOY / "nginx" / "render.py"
LOOPBACK = "127.0.0.1"


def load_render() -> Any:
    """deploy/nginx/render.py as a module (deploy/ is not a package)."""
    name = "docvouch_deploy_render"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, RENDER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def nginx_binary() -> str | None:
    """The nginx executable (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _stop(process: subprocess.Popen[bytes], signum: int, timeout: float) -> int:
    """Signal ``process`` and wait; SIGKILL its process group if it does not exit in time."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own group: start_new_session
            return process.wait(timeout=10)
    return process.returncode


class Replica:
    """One ``python -m docvouch serve`` on a fixed loopback port; restartable."""

    def __init__(self, name: str, port: int, home: Path, log_dir: Path,
                 settings: dict[str, Any] | None = None) -> None:
        self.name, self.port, self.home, self.log_dir = name, port, home, log_dir
        self.settings = settings or {}
        self.base = f"http://{LOOPBACK}:{port}"
        self.address = f"{LOOPBACK}:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_paths: list[Path] = []

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        log_path = self.log_dir / f"{self.name}-{self.starts}.log"
        self.log_paths.append(log_path)
        env = {**os.environ, "DOCVOUCH_HOME": str(self.home), "DOCVOUCH_HOST": LOOPBACK,
               "DOCVOUCH_LOG_FORMAT": "json", "DOCVOUCH_BUILD_DEFAULT_INDEX": "false"}
        env.update({f"DOCVOUCH_{k.upper()}": str(v) for k, v in self.settings.items()})
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "docvouch", "serve", "--port", str(self.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM: the service stops listening at once and drains in-flight requests."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        return _stop(self.process, signal.SIGTERM, timeout)

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines of every start so far."""
        out = []
        for path in self.log_paths:
            for line in path.read_bytes().splitlines():
                with contextlib.suppress(orjson.JSONDecodeError):
                    out.append(orjson.loads(line))
        return out

    def tail(self) -> str:
        return self.log_paths[-1].read_text(errors="replace")[-2000:] if self.log_paths else ""


async def wait_ready(base: str, deadline_s: float = 60.0, *,
                     alive: Callable[[], bool] | None = None) -> float:
    """Poll ``base``/readyz until 200; the seconds it took. Fails early if ``alive`` says no."""
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() - started < deadline_s:
            if alive is not None and not alive():
                raise RuntimeError(f"{base} exited before it was ready")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(base + "/readyz") as response:
                    if response.status == 200:
                        return time.monotonic() - started
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{base} not ready within {deadline_s} s")


WRAPPER = """\
# Written by deploy/load/loopback.py: a scratch main context around the rendered template.
daemon off;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/docvouch.conf;
}}
"""


class Nginx:
    """nginx in the foreground with the rendered deploy/nginx/docvouch.conf."""

    def __init__(self, prefix: Path, upstreams: list[str], *, port: int | None = None,
                 workers: int = 1, listen: str | None = None,
                 tls: tuple[Path, Path] | None = None,
                 edit: Callable[[str], str] | None = None) -> None:
        self.binary = nginx_binary()
        if self.binary is None:
            raise FileNotFoundError("nginx is not installed (Debian package: nginx)")
        self.prefix = prefix
        self.port = port or free_port()
        self.base = f"http{'s' if tls else ''}://{LOOPBACK}:{self.port}"
        self.access_log = prefix / "access.log"
        self.error_log = prefix / "error.log"
        (prefix / "tmp").mkdir(parents=True, exist_ok=True)
        render = load_render()
        conf = render.render(upstreams, listen=listen or f"{LOOPBACK}:{self.port}",
                             access_log=str(self.access_log),
                             tls_cert=str(tls[0]) if tls else None,
                             tls_key=str(tls[1]) if tls else None)
        (prefix / "docvouch.conf").write_text(edit(conf) if edit else conf)
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(WRAPPER.format(prefix=prefix, workers=workers))
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *extra: str) -> list[str]:
        assert self.binary is not None
        return [self.binary, "-p", str(self.prefix), "-c", str(self.conf), *extra]

    def check(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t`` on the rendered configuration."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30,
                              check=False)

    def start(self, deadline_s: float = 10.0) -> None:
        with (self.prefix / "nginx.out").open("wb") as out:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError("nginx exited: " + self.error_log.read_text(errors="replace")
                                   if self.error_log.exists() else "nginx exited")
            with contextlib.suppress(OSError), socket.create_connection(
                    (LOOPBACK, self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise TimeoutError(f"nginx not listening on {self.port}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGQUIT: nginx's graceful stop (finishes requests in progress)."""
        if self.process is None:
            return None
        return _stop(self.process, signal.SIGQUIT, timeout)

    def log(self) -> list[dict[str, Any]]:
        """The access log, one dict per request (the template's docvouch_json format)."""
        if not self.access_log.exists():
            return []
        return [orjson.loads(line) for line in self.access_log.read_bytes().splitlines()
                if line.strip()]

    def errors(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""


@dataclass
class Topology:
    """N replicas on one shared (read-only) home, nginx in front; a context manager."""

    home: Path
    workdir: Path
    replicas: int = 2
    settings: dict[str, Any] = field(default_factory=dict)
    nginx_workers: int = 1
    edit: Callable[[str], str] | None = None  # for experiments on the rendered file
    members: list[Replica] = field(default_factory=list)
    nginx: Nginx | None = None

    async def start(self, ready_deadline_s: float = 90.0) -> Topology:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for n in range(self.replicas):
            replica = Replica(f"replica-{chr(ord('a') + n)}", free_port(), self.home,
                              self.workdir, self.settings)
            self.members.append(replica)
        try:
            for replica in self.members:
                replica.start()
            self.nginx = Nginx(self.workdir / "nginx", [r.address for r in self.members],
                               workers=self.nginx_workers, edit=self.edit)
            checked = self.nginx.check()
            if checked.returncode != 0:
                raise RuntimeError("nginx -t failed: " + checked.stderr)
            await asyncio.gather(*(wait_ready(r.base, ready_deadline_s, alive=r.running)
                                   for r in self.members))
            self.nginx.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for replica in self.members:
            replica.stop()

    async def __aenter__(self) -> Topology:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.close()


# --- load ----------------------------------------------------------------------------------

@dataclass
class Outcome:
    """One request as the client saw it."""

    request_id: str
    sent: float
    done: float
    status: int | None = None
    error: str | None = None
    cache: str | None = None


@dataclass
class Load:
    """Closed-loop clients posting answers until ``stop`` is set or ``deadline`` passes."""

    url: str
    make_text: Callable[[int], str]
    clients: int = 8
    headers: dict[str, str] = field(default_factory=dict)
    id_prefix: str = "load"
    max_requests: int = 1_000_000
    outcomes: list[Outcome] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, deadline_s: float) -> list[Outcome]:
        end = time.monotonic() + deadline_s
        counter = 0
        timeout = aiohttp.ClientTimeout(total=30)
        connector = aiohttp.TCPConnector(limit=0)

        async def client(session: aiohttp.ClientSession) -> None:
            nonlocal counter
            while not self.stop.is_set() and time.monotonic() < end \
                    and counter < self.max_requests:
                counter += 1
                n = counter
                outcome = Outcome(f"{self.id_prefix}-{n}", time.monotonic(), 0.0)
                headers = {**self.headers, "X-Request-ID": outcome.request_id}
                body = orjson.dumps({"text": self.make_text(n), "source": {"site": "load"}})
                try:
                    async with session.post(self.url + "/v1/verify", data=body, headers={
                            **headers, "Content-Type": "application/json"}) as response:
                        await response.read()
                        outcome.status = response.status
                        outcome.cache = response.headers.get("X-DocVouch-Cache")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    outcome.error = type(exc).__name__
                outcome.done = time.monotonic()
                self.outcomes.append(outcome)
                if outcome.status == 503:
                    await asyncio.sleep(0.2)

        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(client(session) for _ in range(self.clients)))
        return self.outcomes


def sample_answer(n: int) -> str:
    """A short, distinct answer (a few claims) for load that keeps 2 cores usable."""
    return (f"Answer {n}. Use `json.dumps(obj, indent=2)` to pretty-print JSON, and "
            f"`os.makedirs(path, exist_ok=True)` to create directory {n} with its parents.")


async def _main_async(args: argparse.Namespace) -> None:
    home = Path(args.home) if args.home else None
    with tempfile.TemporaryDirectory(prefix="docvouch-loopback-") as scratch:
        if home is None:
            from docvouch.store import ensure_default_index

            home = Path(scratch) / "home"
            ensure_default_index(home, progress=lambda line: print(line, file=sys.stderr))
        # --no-post-retry: the experiment behind the template's choice, the same file without
        # non_idempotent, so nginx may not resend a POST it has already sent.
        edit = (lambda text: text.replace(" non_idempotent;", ";")) if args.no_post_retry \
            else None
        topo = Topology(home, Path(scratch) / "run", replicas=args.replicas,
                        settings={"workers": args.workers}, edit=edit)
        async with topo:
            assert topo.nginx is not None
            started = time.monotonic()
            outcomes: list[Outcome] = []
            for n in range(max(1, args.rounds)):
                load = Load(topo.nginx.base, sample_answer, clients=args.clients,
                            id_prefix=f"round{n}")
                running = asyncio.create_task(load.run(args.seconds + 60))
                if args.rounds:
                    # Stop replica a with SIGTERM mid-load, start it again, let both serve.
                    first = topo.members[0]
                    await asyncio.sleep(args.seconds / 3)
                    first.terminate()
                    await asyncio.to_thread(first.wait, 30)
                    await asyncio.sleep(1.0)
                    first.start()
                    await wait_ready(first.base, 60, alive=first.running)
                    await asyncio.sleep(args.seconds / 2)
                else:
                    await asyncio.sleep(args.seconds)
                load.stop.set()
                outcomes += await running
            took = time.monotonic() - started
            await asyncio.sleep(0.3)
            log = topo.nginx.log()
            ok = sum(1 for o in outcomes if o.status == 200)
            statuses: dict[str, int] = {}
            for o in outcomes:
                key = str(o.status or o.error)
                statuses[key] = statuses.get(key, 0) + 1
            by_upstream: dict[str, int] = {}
            for line in log:
                final = line["upstream_addr"].split(", ")[-1] or "(nginx itself)"
                by_upstream[final] = by_upstream.get(final, 0) + 1
            print(f"{len(outcomes)} requests in {took:.1f} s through nginx "
                  f"({ok / took:.1f} answers/s); client statuses {statuses}; "
                  f"{sum(', ' in line['upstream_addr'] for line in log)} resent by nginx to "
                  f"another replica; served by {by_upstream}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="workers per replica")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=20.0, help="load time (per round)")
    parser.add_argument("--rounds", type=int, default=0,
                        help="stop replica a with SIGTERM and restart it this many times, "
                             "once per round of load")
    parser.add_argument("--no-post-retry", action="store_true",
                        help="drop non_idempotent from the rendered file (an experiment)")
    parser.add_argument("--home", help="DOCVOUCH_HOME with a built index (else one is built)")
    asyncio.run(_main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
