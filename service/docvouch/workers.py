"""Worker processes: start one from the forkserver, talk to it, stop it.

Each worker (``worker_main.run_worker``) maps every corpus index once and then answers one
job at a time over a socket pair. ``generation.py`` runs a set of them behind a queue; the
forkserver has the engine preloaded, so a new worker costs a fork plus mapping the index.
Errors raised inside a worker come back as :class:`RemoteError` with their status and code.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from docvouch import worker_main
from docvouch.errors import DocVouchError, WorkerStartError
from docvouch.settings import Settings

STOP_GRACE_S = 3.0  # a worker told to stop (socket closed) gets this long before SIGKILL
_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload(["docvouch.worker_main"])
# multiprocessing's child bookkeeping is not thread-safe; starts run in worker threads.
_START_LOCK = threading.Lock()

def _titles(cls: type[DocVouchError]) -> dict[str, str]:
    out = {cls.code: cls.title}
    for sub in cls.__subclasses__():
        out.update(_titles(sub))
    return out


class RemoteError(DocVouchError):
    """An error raised inside a worker, carrying the status and code it had there."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail", "worker error"), **problem.get("extra", {}))
        self.status = int(problem.get("status", 500))  # type: ignore[misc]
        self.code = str(problem.get("code", "internal"))  # type: ignore[misc]
        self.title = _titles(DocVouchError).get(  # type: ignore[misc]
            self.code, self.code.replace("_", " ").capitalize())
        self.exc_type = problem.get("exc_type")
        self.frames = problem.get("frames")


@dataclass(slots=True, eq=False)
class Worker:
    """One child process and the socket to it."""

    process: Any
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    ready: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def send(self, message: dict[str, Any]) -> None:
        """Queue a job's frame for the worker, which answers frames in the order sent.

        Not drained: at most two frames wait per worker (the job it runs and the one sent
        ahead), and waiting here for a worker to read a large frame sent ahead, which it
        reads only after writing its current answer, while that answer goes unread, would
        deadlock the two once both socket buffers are full."""
        body = orjson.dumps(message)
        self.writer.write(worker_main.HEADER.pack(len(body)) + body)

    async def reply(self) -> dict[str, Any]:
        """The answer to the oldest job sent and not yet answered."""
        return await read_frame(self.reader)

    async def stop(self, *, kill: bool = False) -> None:
        """Close the socket (the worker exits at EOF); SIGKILL if it lingers or ``kill``."""
        self.writer.close()
        if kill:
            self.process.kill()
        if not await asyncio.to_thread(joined, self.process, STOP_GRACE_S):
            self.process.kill()
            await asyncio.to_thread(joined, self.process, STOP_GRACE_S)


def joined(process: Any, timeout: float) -> bool:
    """Wait up to ``timeout`` for ``process`` to exit (blocking: run it in a thread)."""
    process.join(timeout)
    return process.exitcode is not None


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    (size,) = worker_main.HEADER.unpack(await reader.readexactly(worker_main.HEADER.size))
    if size > worker_main.MAX_FRAME_BYTES:
        raise ConnectionError(f"frame of {size} bytes from a worker")
    message = orjson.loads(await reader.readexactly(size))
    attached = message.get("attachment") if isinstance(message, dict) else None
    if attached is not None:
        if not isinstance(attached, int) or not 0 <= attached <= worker_main.MAX_FRAME_BYTES:
            raise ConnectionError(f"attachment of {attached!r} bytes from a worker")
        message["attachment"] = await reader.readexactly(attached)
    return message


def _start(process: Any) -> None:
    with _START_LOCK:
        process.start()


async def start_child(target: Callable[..., None], *args: Any, daemon: bool = True
                      ) -> tuple[Any, asyncio.StreamReader, asyncio.StreamWriter]:
    """Fork ``target(sock, *args)`` from the forkserver; the parent's end as a stream."""
    parent, child = socket.socketpair()
    process = _CTX.Process(target=target, args=(child, *args), daemon=daemon,
                           name="docvouch-" + target.__name__.removeprefix("run_"))
    starting = asyncio.ensure_future(asyncio.to_thread(_start, process))
    try:
        # Shielded: a cancelled start must still learn whether the fork happened.
        try:
            await asyncio.shield(starting)
        except OSError as exc:
            # e.g. the forkserver's Unix socket under a TMPDIR too long for a socket path:
            # a clear refusal to start, not a service stuck in "starting workers"
            hint = ("; point TMPDIR at a shorter directory (multiprocessing's socket lives "
                    "there)" if "too long" in str(exc) else "")
            raise WorkerStartError(f"cannot start a {target.__name__.removeprefix('run_')} "
                                   f"process: {exc}{hint}") from exc
        return (process, *await asyncio.open_unix_connection(sock=parent))
    except BaseException:
        with contextlib.suppress(BaseException):
            await starting
        parent.close()
        if process.pid is not None:
            process.kill()
            await asyncio.to_thread(joined, process, STOP_GRACE_S)
        raise
    finally:
        child.close()


async def spawn_worker(builds: dict[str, Path], settings: Settings) -> Worker:
    """A new worker with every corpus mapped; raises if it cannot start in time."""
    process, reader, writer = await start_child(
        worker_main.run_worker, {k: str(v) for k, v in builds.items()},
        settings.verify_checksums)
    worker = Worker(process, reader, writer)
    try:
        hello = await asyncio.wait_for(read_frame(reader), settings.worker_start_timeout_s)
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
        await worker.stop(kill=True)
        how = ("did not open the indexes within worker_start_timeout_s" if
               isinstance(exc, TimeoutError) else f"exited with code {process.exitcode}")
        # A common cause when embedding create_app: a __main__ script without the
        # `if __name__ == "__main__":` guard, which every forked worker re-runs.
        raise WorkerStartError(f"a worker process {how} while starting; its traceback, if "
                               "any, is in the service output") from exc
    except BaseException:
        await worker.stop(kill=True)
        raise
    worker.ready = hello
    return worker
