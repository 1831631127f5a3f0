"""The worker pool: verification off the event loop, bounded, with deadlines and reloads.

::

    submit() ─▶ Generation.queue (bounded by queue_max; past it OverloadedError, 503)
                  │  one slot task per worker process takes the next job
                  ▼
              worker process (worker_main.run_worker): the engine, mapped once

* A **generation** is a set of workers that all mapped the same index builds. A reload
  starts a new generation beside the old one, switches new requests to it once every
  worker is ready, and retires the old one after its queued jobs finish: no request fails.
* A worker that **dies** fails only its own job (WorkerLostError, 503) and is replaced; one
  that runs **past the deadline** by ``HANG_GRACE_S`` is killed and replaced.
* A job whose caller has gone (disconnect, deadline) is skipped if it has not started, and
  its result discarded if it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from docvouch import worker_main
from docvouch.errors import (
    DeadlineExceededError,
    DocVouchError,
    IndexMissingError,
    NotReadyError,
    OverloadedError,
    WorkerLostError,
)
from docvouch.logs import get_logger
from docvouch.settings import Settings

HANG_GRACE_S = 2.0  # past its deadline by this much, a job counts as hung: kill the worker
STOP_GRACE_S = 3.0  # a worker told to stop (socket closed) gets this long before SIGKILL
RESPAWN_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
log = get_logger("docvouch.workers")
_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload(["docvouch.worker_main"])
# multiprocessing's child bookkeeping is not thread-safe; starts run in worker threads.
_START_LOCK = threading.Lock()


class RemoteError(DocVouchError):
    """An error raised inside a worker, carrying the status and code it had there."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail", "worker error"), **problem.get("extra", {}))
        self.status = int(problem.get("status", 500))  # type: ignore[misc]
        self.code = str(problem.get("code", "internal"))  # type: ignore[misc]
        self.title = self.code.replace("_", " ").capitalize()  # type: ignore[misc]
        self.exc_type = problem.get("exc_type")
        self.frames = problem.get("frames")


@dataclass(slots=True, eq=False)
class Job:
    op: str
    corpus: str
    args: dict[str, Any]
    deadline: float  # loop.time()
    future: asyncio.Future[Any]
    started: bool = False


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

    async def call(self, message: dict[str, Any]) -> dict[str, Any]:
        body = orjson.dumps(message)
        self.writer.write(worker_main.HEADER.pack(len(body)) + body)
        await self.writer.drain()
        return await read_frame(self.reader)

    async def stop(self, *, kill: bool = False) -> None:
        """Close the socket (the worker exits at EOF); SIGKILL if it lingers or ``kill``."""
        self.writer.close()
        if kill:
            self.process.kill()
        if not await asyncio.to_thread(_joined, self.process, STOP_GRACE_S):
            self.process.kill()
            await asyncio.to_thread(_joined, self.process, STOP_GRACE_S)


def _joined(process: Any, timeout: float) -> bool:
    process.join(timeout)
    return process.exitcode is not None


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    (size,) = worker_main.HEADER.unpack(await reader.readexactly(worker_main.HEADER.size))
    if size > worker_main.MAX_FRAME_BYTES:
        raise ConnectionError(f"frame of {size} bytes from a worker")
    return orjson.loads(await reader.readexactly(size))


def _start(process: Any) -> None:
    with _START_LOCK:
        process.start()


async def start_child(target: Callable[..., None], *args: Any, daemon: bool = True
                      ) -> tuple[Any, asyncio.StreamReader, asyncio.StreamWriter]:
    """Fork ``target(sock, *args)`` from the forkserver; the parent's end as a stream."""
    parent, child = socket.socketpair()
    try:
        process = _CTX.Process(target=target, args=(child, *args), daemon=daemon,
                               name="docvouch-" + target.__name__.removeprefix("run_"))
        await asyncio.to_thread(_start, process)
    finally:
        child.close()
    try:
        reader, writer = await asyncio.open_unix_connection(sock=parent)
    except BaseException:
        parent.close()
        process.kill()
        raise
    return process, reader, writer


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
        raise IndexMissingError(f"a worker could not open the indexes ({type(exc).__name__}); "
                                f"exit code {process.exitcode}") from exc
    except BaseException:
        await worker.stop(kill=True)
        raise
    worker.ready = hello
    return worker


class Generation:
    """Workers that all mapped the same builds, with the queue that feeds them."""

    def __init__(self, builds: dict[str, Path], settings: Settings,
                 on_restart: Callable[[str], None]) -> None:
        self.builds = builds
        self.settings = settings
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.waiting = 0
        self.busy = 0
        self.alive = 0
        self.corpora: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}
        self.service_s = 0.05  # moving average of job time, for Retry-After
        self._on_restart = on_restart
        self._slots: list[asyncio.Task[None]] = []
        self._workers: list[Worker | None] = []
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        """Spawn every worker; raise (leaving nothing running) unless all come up."""
        started = await asyncio.gather(
            *(spawn_worker(self.builds, self.settings) for _ in range(self.settings.workers)),
            return_exceptions=True)
        workers = [w for w in started if isinstance(w, Worker)]
        failure = next((e for e in started if isinstance(e, BaseException)), None)
        if failure is None and workers and not workers[0].ready.get("ready"):
            failure = IndexMissingError("no corpus could be opened: " + "; ".join(
                f"{k}: {v}" for k, v in workers[0].ready.get("errors", {}).items()))
        if failure is not None:
            await asyncio.gather(*(w.stop(kill=True) for w in workers))
            raise failure
        self.corpora = workers[0].ready["ready"]
        self.errors = workers[0].ready.get("errors", {})
        self._workers = list(workers)
        self.alive = len(workers)
        self._slots = [asyncio.create_task(self._run_slot(i), name=f"docvouch-slot-{i}")
                       for i in range(len(workers))]

    def pids(self) -> list[int]:
        return [w.pid for w in self._workers if w is not None]

    def submit(self, job: Job) -> None:
        self.waiting += 1
        self._idle.clear()
        job.future.add_done_callback(lambda _f: self._dropped(job))
        self.queue.put_nowait(job)

    def _dropped(self, job: Job) -> None:
        if not job.started:  # finished before a worker took it: cancelled or expired
            job.started = True
            self.waiting -= 1
            self._check_idle()

    def _check_idle(self) -> None:
        if self.waiting == 0 and self.busy == 0:
            self._idle.set()

    def retry_after_s(self) -> int:
        """Seconds until the queue has likely drained, for the Retry-After header."""
        backlog = self.waiting + self.busy
        return max(1, min(60, math.ceil(backlog * self.service_s / max(1, self.alive))))

    async def _run_slot(self, slot: int) -> None:
        failures = 0
        while True:
            if self._workers[slot] is None:
                self._workers[slot] = await self._respawn(failures)
                failures = 0 if self._workers[slot] else failures + 1
                if self._workers[slot] is None:
                    continue
            job = await self.queue.get()
            if job.started:
                continue  # its caller is gone; skip without starting it
            job.started = True
            self.waiting -= 1
            self.busy += 1
            try:
                await self._run_job(slot, job)
            finally:
                self.busy -= 1
                self._check_idle()

    async def _run_job(self, slot: int, job: Job) -> None:
        worker = self._workers[slot]
        assert worker is not None
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        budget = max(0.0, job.deadline - loop.time()) + HANG_GRACE_S
        try:
            reply = await asyncio.wait_for(
                worker.call({"op": job.op, "corpus": job.corpus, "args": job.args}), budget)
        except TimeoutError:
            self._lost(slot, "hung")
            _fail(job, DeadlineExceededError("the worker did not finish in time; it was "
                                             "restarted"))
            return
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self._lost(slot, "died")
            _fail(job, WorkerLostError("the worker process died while handling this request; "
                                       "it is being replaced", retry_after_s=1))
            return
        self.service_s = 0.8 * self.service_s + 0.2 * (time.perf_counter() - started)
        if job.future.done():
            return  # the caller left; the result is discarded
        if "ok" in reply:
            job.future.set_result(reply["ok"])
        else:
            _fail(job, RemoteError(reply.get("error", {})))

    def _lost(self, slot: int, cause: str) -> None:
        worker = self._workers[slot]
        self._workers[slot] = None
        self.alive -= 1
        self._on_restart(cause)
        if worker is not None:
            log.warning("worker_lost", pid=worker.pid, cause=cause)
            asyncio.ensure_future(worker.stop(kill=True))

    async def _respawn(self, failures: int) -> Worker | None:
        if failures:
            await asyncio.sleep(RESPAWN_BACKOFF_S[min(failures, len(RESPAWN_BACKOFF_S)) - 1])
        try:
            worker = await spawn_worker(self.builds, self.settings)
        except DocVouchError as exc:
            log.error("worker_respawn_failed", detail=exc.detail, attempt=failures + 1)
            return None
        self.alive += 1
        log.info("worker_replaced", pid=worker.pid)
        return worker

    async def close(self, *, drain_s: float) -> None:
        """Let queued jobs finish for up to ``drain_s``, then stop every worker."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), drain_s)
        for task in self._slots:
            task.cancel()
        await asyncio.gather(*self._slots, return_exceptions=True)
        while not self.queue.empty():
            _fail(self.queue.get_nowait(), NotReadyError("the service is shutting down",
                                                         retry_after_s=1))
        workers = [w for w in self._workers if w is not None]
        self._workers = [None] * len(self._workers)
        self.alive = 0
        await asyncio.gather(*(w.stop() for w in workers))


def _fail(job: Job, exc: DocVouchError) -> None:
    if not job.future.done():
        job.future.set_exception(exc)
        job.future.exception()  # mark retrieved: the caller may have gone already
