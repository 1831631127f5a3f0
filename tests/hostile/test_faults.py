"""Faults survived: a disk that fills during an ingest, a docs site that stalls or dies, and
API keys kept out of a real server's log.

Disk full is real, not simulated: a small tmpfs (ENOSPC) where mounting is allowed, and in
every environment a child process with ``RLIMIT_FSIZE`` (EFBIG) writing the same build.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from server_process import ServerProcess

from docvouch.auth import hash_key
from docvouch.engine import Engine
from docvouch.errors import CorpusBuildError
from docvouch.ingest.builder import IngestOptions
from docvouch.ingest.crawl import CrawlOptions, ingest_crawl
from docvouch.ingest.fetch import Fetcher, FetchFailed, FetchPolicy
from docvouch.store import current_index

pytestmark = pytest.mark.timeout(240)
SMALL_DOC = "# Guide\n\nThe handbook cache keeps 64 MiB of pages by default.\n"


def write_docs(folder: Path, pages: int) -> Path:
    """``pages`` markdown files with distinct text (a bigger corpus takes more index space)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(pages):
        body = " ".join(f"word{n}x{i} configures the widget{i % 97} setting" for i in range(60))
        (folder / f"page{n:04d}.md").write_text(f"# Page {n}\n\n{body}.\n")
    return folder


def ingest(home: Path, docs: Path, *, fsize: int | None = None
           ) -> subprocess.CompletedProcess[str]:
    """``docvouch ingest`` in a child process, optionally with a file-size limit."""
    def limit() -> None:  # runs in the child, before exec
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [sys.executable, "-m", "docvouch", "--home", str(home), "ingest", str(docs),
         "--name", "handbook"],
        capture_output=True, text=True, timeout=180, preexec_fn=limit)


def assert_old_index_serves(home: Path, build: Path) -> None:
    """``current`` still names the old build, which opens and answers; no debris is left."""
    assert current_index(home, "handbook").resolve() == build
    builds = build.parent
    assert not [p.name for p in builds.iterdir() if p.name.startswith(".tmp-")]
    engine = Engine.open(build)
    hits = engine.search("handbook cache", k=1)
    assert hits, "the old index answers no query"


def test_a_file_size_limit_during_ingest_keeps_the_old_index(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = ingest(home, _small(tmp_path))
    assert first.returncode == 0, first.stderr
    old = current_index(home, "handbook").resolve()
    big = write_docs(tmp_path / "big", 400)
    failed = ingest(home, big, fsize=64 * 1024)
    assert failed.returncode != 0, failed.stdout
    # numpy's short write or Python's EFBIG: one clear line, not a traceback
    assert "nothing was published" in failed.stderr, failed.stderr[-2000:]
    assert "Traceback" not in failed.stderr, failed.stderr[-2000:]
    assert_old_index_serves(home, old)
    again = ingest(home, big)  # the limit gone, the same ingest succeeds
    assert again.returncode == 0, again.stderr
    assert current_index(home, "handbook").resolve() != old


def _small(tmp_path: Path) -> Path:
    docs = tmp_path / "small"
    docs.mkdir()
    (docs / "guide.md").write_text(SMALL_DOC)
    return docs


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs mounted under ``tmp_path`` (skipped where mounting is not allowed)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                          capture_output=True, text=True, timeout=30)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def test_disk_full_during_ingest_keeps_the_old_index_serving(small_tmpfs: Path,
                                                             tmp_path: Path) -> None:
    home = small_tmpfs / "home"
    first = ingest(home, _small(tmp_path))
    assert first.returncode == 0, first.stderr
    old = current_index(home, "handbook").resolve()
    # fill the filesystem, leaving 64 KiB: far less than the new build needs
    ballast = small_tmpfs / "ballast"
    free = shutil.disk_usage(small_tmpfs).free
    with ballast.open("wb") as out:
        out.truncate(0)
        out.write(b"\0" * max(0, free - 64 * 1024))
    failed = ingest(home, write_docs(tmp_path / "big", 400))
    assert failed.returncode != 0, failed.stdout
    assert "nothing was published" in failed.stderr, failed.stderr[-2000:]
    assert "Traceback" not in failed.stderr, failed.stderr[-2000:]
    assert_old_index_serves(home, old)
    ballast.unlink()  # space back: the next ingest publishes
    again = ingest(home, tmp_path / "big")
    assert again.returncode == 0, again.stderr
    assert current_index(home, "handbook").resolve() != old


# ---------------------------------------------------------------- slow or dead docs sites


class BadSite:
    """A TCP listener on 127.0.0.1 that misbehaves in one way, in a thread.

    ``stall``: reads the request and never answers; ``trickle``: sends headers promising a
    body, then one byte per 0.2 s; ``close``: closes every connection at once.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.connections = 0
        self._done = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    def url(self, path: str = "/docs/index.html") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            if self.mode == "close":
                return
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                if self.mode == "trickle":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                 b"Content-Length: 100000\r\n\r\n")
                    while not self._done.wait(0.2):
                        conn.sendall(b"<")
                else:
                    self._done.wait(30)  # stall: hold the socket, say nothing

    def __enter__(self) -> BadSite:
        self._accepter.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._sock.close()
        self._accepter.join(5)
        for worker in self._threads:
            worker.join(5)


async def fetch_once(url: str, timeout_s: float) -> BaseException | None:
    async with Fetcher(FetchPolicy(allow_private=True, timeout_s=timeout_s)) as fetcher:
        try:
            await fetcher.fetch(url)
        except FetchFailed as exc:
            return exc
    return None


@pytest.mark.parametrize("mode", ["stall", "trickle", "close"])
def test_a_slow_or_dead_site_fails_the_fetch_within_its_timeout(mode: str) -> None:
    with BadSite(mode) as site:
        start = time.monotonic()
        error = asyncio.run(fetch_once(site.url(), timeout_s=1.0))
        took = time.monotonic() - start
    assert isinstance(error, FetchFailed), error
    assert site.connections >= 1
    assert took < 3.0, f"{mode}: the fetch took {took:.1f} s with a 1 s timeout"


def test_a_port_with_nothing_listening_fails_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        start = time.monotonic()
        error = asyncio.run(fetch_once(f"http://127.0.0.1:{port}/", timeout_s=5.0))
    assert isinstance(error, FetchFailed) and "connect" in error.reason
    assert time.monotonic() - start < 2.0


def test_a_crawl_of_a_stalled_site_ends_and_publishes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with BadSite("stall") as site:
        # robots off: the page fetch itself must time out (a stalled robots.txt already
        # counts as "disallowed", which would end the crawl before any page is asked for)
        options = CrawlOptions(start=site.url(), rate=0, max_pages=10, robots=False,
                               policy=FetchPolicy(allow_private=True, timeout_s=1.0))
        start = time.monotonic()
        with pytest.raises(CorpusBuildError):
            ingest_crawl(home, options, IngestOptions(name="stalled", jobs=1))
        took = time.monotonic() - start
    assert took < 15.0, f"the crawl took {took:.1f} s against a stalled site"
    assert not (home / "indexes" / "stalled" / "current").exists()


# ---------------------------------------------------------------- keys in a real log

API_KEY = "dv-test-" + "k3y" * 10
ADMIN_KEY = "dv-admin-" + "adm" * 10


def request(base: str, path: str, key: str | None = None, method: str = "GET",
            body: bytes | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(base + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError:  # not listening yet
        return 0


def test_keys_never_reach_a_real_server_log(service_home: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with ServerProcess(service_home, log, workers=1, api_keys=hash_key(API_KEY),
                       admin_keys=hash_key(ADMIN_KEY), log_level="debug") as server:
        deadline = time.monotonic() + 60
        while request(server.base, "/readyz") != 200:
            assert time.monotonic() < deadline, server.tail()
            time.sleep(0.1)
        verify = orjson.dumps({"text": "Use `json.dumps(obj, indent=2)`."})
        statuses = [
            request(server.base, "/v1/verify", API_KEY, "POST", verify),
            request(server.base, "/v1/verify", "wrong-" + API_KEY, "POST", verify),
            request(server.base, "/v1/corpus", API_KEY[:-1]),
            request(server.base, f"/v1/search?q=json&api_key={API_KEY}"),
            request(server.base, f"/v1/search?q=json&key={API_KEY}", API_KEY),
            request(server.base, "/v1/admin/reload", ADMIN_KEY, "POST"),
            request(server.base, "/v1/admin/reload", API_KEY, "POST"),
            request(server.base, "/metrics", API_KEY),
        ]
        assert statuses == [200, 401, 401, 401, 401, 200, 403, 200], statuses
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        text = log.read_text(errors="replace")
    lines = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    assert len([line for line in lines if line.get("event") == "request"]) >= len(statuses)
    for secret in (API_KEY, ADMIN_KEY, API_KEY[:-1], API_KEY[8:24]):
        assert secret not in text, f"a key fragment is in the log: {secret[:8]}…"


def test_a_temp_dir_too_long_for_a_unix_socket_fails_the_start_with_a_reason(
        service_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # multiprocessing's forkserver listens on a Unix socket under TMPDIR; a path over the
    # 107-byte limit used to leave the service "starting workers" for ever, with no log line
    long_tmp = tmp_path / ("t" * 110)
    long_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(long_tmp))
    with ServerProcess(service_home, tmp_path / "serve.log", workers=1) as server:
        failed = server.wait_for_log("index_load_failed", deadline_s=30)
        assert failed["code"] == "worker_start_failed"
        assert "too long" in failed["detail"] and "TMPDIR" in failed["detail"]
        with urllib.request.urlopen(server.base + "/healthz", timeout=5) as response:
            assert response.status == 200  # alive, and saying why it is not ready
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.base + "/readyz", timeout=5)
        assert refused.value.code == 503
        assert orjson.loads(refused.value.read())["state"] == "failed"
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
