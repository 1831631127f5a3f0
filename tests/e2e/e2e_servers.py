"""Local servers for the browser tests: the DocVouch service process, a counting proxy in front
of it, and an HTTPS server that plays chatgpt.com with a saved-shape fixture page.

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_until_ready(
    url: str, *, deadline_s: float, process: subprocess.Popen | None = None
) -> None:
    """Poll `url` until it answers 200, the process dies, or the deadline passes."""
    end = time.monotonic() + deadline_s
    last_error = "no attempt"
    while time.monotonic() < end:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"service exited with code {process.returncode} before {url} was ready"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as error:
            last_error = str(error)
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {deadline_s:.0f} s: {last_error}")


@dataclass
class ServiceProcess:
    """`python -m docvouch serve` on a free loopback port, its output kept in a log file."""

    home: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, *, ready_deadline_s: float) -> None:
        env = {**os.environ, "DOCVOUCH_HOME": str(self.home)}
        command = [
            sys.executable,
            "-m",
            "docvouch",
            "serve",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
        ]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            wait_until_ready(
                f"{self.base_url}/readyz", deadline_s=ready_deadline_s, process=self.process
            )
        except Exception as error:
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"{error}\n--- service output ---\n{tail}") from error

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A browser closing a kept-alive connection is normal here, not a test failure.
        pass


class _Background:
    """Runs a ThreadingHTTPServer on a thread until `close()`."""

    def __init__(self, server: http.server.ThreadingHTTPServer) -> None:
        self.server = server
        self.port = server.server_address[1]
        self.thread = threading.Thread(
            target=server.serve_forever, name=type(self).__name__, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class CountingProxy(_Background):
    """Forwards requests to the service and records each `POST /v1/verify` it passes on."""

    def __init__(self, upstream_port: int) -> None:
        self.verify_requests: list[bytes] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "POST" and self.path == "/v1/verify":
                    proxy.verify_requests.append(body or b"")
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in {"host", "connection"}
                }
                upstream = http.client.HTTPConnection(LOOPBACK, upstream_port, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    upstream.close()

            do_GET = _forward
            do_POST = _forward

        super().__init__(_QuietServer((LOOPBACK, 0), Handler))

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


def self_signed_certificate(directory: Path, hostname: str) -> tuple[Path, Path]:
    """A throwaway cert for `hostname`; the browser runs with --ignore-certificate-errors."""
    cert, key = directory / "site-cert.pem", directory / "site-key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={hostname}",
            "-addext",
            f"subjectAltName=DNS:{hostname}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class FixtureSite(_Background):
    """HTTPS server for the fixture pages: /c/<anything> serves `page`, other paths their file."""

    def __init__(self, root: Path, page: str, certificate: tuple[Path, Path]) -> None:
        site_root = root

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, directory=str(site_root), **kwargs)

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/c/"):
                    self.path = f"/{page}"
                super().do_GET()

        server = _QuietServer((LOOPBACK, 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*map(str, certificate))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        super().__init__(server)
