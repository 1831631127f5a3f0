"""``python -m docvouch serve`` as a real child process, for signal and browser tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (workers sit under the forkserver)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class ServerProcess:
    """Start, signal and stop one service process; its output is kept in ``log_path``."""

    def __init__(self, home: Path, log_path: Path, *, health_port: bool | int = False,
                 **settings: Any) -> None:
        """``health_port``: also serve the health port (health.py), at ``health_base``, on a
        free port (True) or on this one."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.health_port = free_port() if health_port is True else int(health_port)
        self.health_base = f"http://127.0.0.1:{self.health_port}"
        if health_port:
            settings["health_port"] = self.health_port
        self.log_path = log_path
        env = {**os.environ, "DOCVOUCH_HOME": str(home), "DOCVOUCH_LOG_FORMAT": "json",
               "DOCVOUCH_BUILD_DEFAULT_INDEX": "0"}
        env.update({f"DOCVOUCH_{k.upper()}": str(v) for k, v in settings.items()})
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "docvouch", "serve", "--port", str(self.port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def lines(self) -> list[dict[str, Any]]:
        """The JSON log lines so far (every line must be JSON).

        While the server runs, a line it is writing can be read half-written (a write that
        crosses a page boundary lands in two steps), so the unterminated tail waits for the
        next read; once the server has exited, every byte must belong to a whole line."""
        if not self._log.closed:
            self._log.flush()
        data = self.log_path.read_bytes()
        if self.process.poll() is None:
            data = data[:data.rfind(b"\n") + 1]
        return [orjson.loads(line) for line in data.splitlines() if line]

    def wait_for_log(self, event: str, deadline_s: float = 20.0, **fields: Any) -> dict:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            for line in self.lines():
                if line.get("event") == event and all(line.get(k) == v for k, v in fields.items()):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no {event} log line within {deadline_s} s: {self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
