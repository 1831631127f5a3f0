"""A generation: worker processes that all mapped the same index builds, and their queue.

::

    WorkerPool.submit() ─▶ Generation.queue (bounded by the pool: queue_max, deadlines)
                             │  one slot task per worker process takes the next job
                             ▼
                           worker process (the engine, mapped once)

* A reload starts a new generation beside the old one, switches new requests to it once
  every worker is ready, and retires the old one after its queued jobs finish.
* A worker that **dies** fails only its own job (WorkerLostError, 503) and is replaced; one
  still busy ``HANG_GRACE_S`` past its job's deadline is killed and replaced.
* A job whose caller has gone (disconnect, deadline) is skipped if it has not started, and
  its result discarded if it has.
* A job is priced by its length (``units``) at the recent seconds per unit; one that is
  taken with too little of its deadline left to finish is refused as overload (503)
  instead of being run into a 504.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docvouch.cache import EncodedResult
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
from docvouch.workers import RemoteError, Worker, spawn_worker

HANG_GRACE_S = 2.0  # past its deadline by this much, a job counts as hung: kill the worker
CHARS_PER_UNIT = 1000  # a job's expected cost: one unit, plus one per 1,000 answer characters
# A job must start with this many times its expected run time left before its deadline;
# later, it is refused as overload (503) rather than run into a 504.
START_MARGIN = 2.0
RESPAWN_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
log = get_logger("docvouch.workers")


@dataclass(slots=True, eq=False)
class Job:
    """One verify or search call, waiting for a worker or running on one."""

    op: str
    corpus: str
    args: dict[str, Any]
    deadline: float  # loop.time()
    future: asyncio.Future[Any]
    started: bool = False

    @property
    def units(self) -> float:
        """Expected cost relative to other jobs: grows with the answer (or query) length."""
        return units_of(self.args)


def units_of(args: dict[str, Any]) -> float:
    """The cost units of a job with these arguments (see ``Job.units``)."""
    return units_for(len(args.get("text") or args.get("query") or ""))


def units_for(chars: int) -> float:
    """The cost units of a job on a text of ``chars`` characters."""
    return 1.0 + chars / CHARS_PER_UNIT


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
        # Seconds per cost unit (recent jobs), and the units queued and running: a burst
        # of maximum-size answers after small ones is priced by its size at once.
        self.unit_s = 0.005
        self.queued_units = 0.0
        self.running_units = 0.0
        # Large bodies admitted before they were read (WorkerPool.reserve_unread), by
        # their declared length, until they are submitted.
        self.reading = 0
        self.reading_units = 0.0
        self._on_restart = on_restart
        self._slots: list[asyncio.Task[None]] = []
        self._slots_waiting = 0  # slot tasks waiting on an empty queue for their next job
        self.sent_ahead = 0  # jobs sent to a worker behind the one it runs (counted in busy)
        self._workers: list[Worker | None] = []
        self._stopping: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        """Spawn every worker; raise (leaving nothing running) unless all come up."""
        spawns = [asyncio.ensure_future(spawn_worker(self.builds, self.settings))
                  for _ in range(self.settings.workers)]
        try:
            started = await asyncio.shield(asyncio.gather(*spawns, return_exceptions=True))
        except asyncio.CancelledError:
            # Shutting down mid-start: stop the workers that made it, then give up.
            for spawn in spawns:
                spawn.cancel()
            done = await asyncio.gather(*spawns, return_exceptions=True)
            await asyncio.gather(*(w.stop(kill=True) for w in done if isinstance(w, Worker)))
            raise
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

    @property
    def workers_busy(self) -> int:
        """Workers running a job (``busy`` also counts the jobs sent ahead behind them)."""
        return self.busy - self.sent_ahead

    def pids(self) -> list[int]:
        return [w.pid for w in self._workers if w is not None]

    def engines(self) -> dict[str, int]:
        """Live workers by the engine each runs (compiled or python), as each one said."""
        counts: dict[str, int] = {}
        for worker in self._workers:
            if worker is not None:
                engine = str(worker.ready.get("engine", "unknown"))
                counts[engine] = counts.get(engine, 0) + 1
        return counts

    def submit(self, job: Job) -> None:
        self.waiting += 1
        self.queued_units += job.units
        self._idle.clear()
        job.future.add_done_callback(lambda _f: self._dropped(job))
        self.queue.put_nowait(job)

    def _dropped(self, job: Job) -> None:
        if not job.started:  # finished before a worker took it: cancelled or expired
            job.started = True
            self.waiting -= 1
            self.queued_units -= job.units
            self._check_idle()

    def _check_idle(self) -> None:
        if self.waiting == 0 and self.busy == 0:
            self._idle.set()

    def expected_wait_s(self, *, with_unread: bool = False) -> float:
        """How long a job queued now would likely wait: the work queued and running (and,
        ``with_unread``, the large bodies still being read), at the recent average time
        per unit (running jobs count whole: an upper estimate)."""
        units = self.queued_units + self.running_units
        if with_unread:
            units += self.reading_units
        return units * self.unit_s / max(1, self.alive)

    def latest_start(self, job: Job) -> float | None:
        """When ``job`` must start to likely finish by its deadline (``loop.time()``).

        None when even a whole ``request_deadline_s`` would be too short for it: then the
        time was not lost to other work, and only the deadline decides (504).
        """
        return self.latest_start_of(job.units, job.deadline)

    def latest_start_of(self, units: float, deadline: float) -> float | None:
        """``latest_start`` for a job of ``units`` due at ``deadline`` (its expected run time
        is ``units × unit_s``)."""
        needed = START_MARGIN * units * self.unit_s
        if needed > self.settings.request_deadline_s:
            return None
        return deadline - needed

    def retry_after_s(self) -> int:
        """Seconds until the queue has likely drained, for the Retry-After header."""
        return max(1, min(60, math.ceil(self.expected_wait_s())))

    async def _run_slot(self, slot: int) -> None:
        failures = 0
        # A job sent to this slot's worker behind the one it runs: the worker starts it the
        # moment it answers, instead of idling until this loop has handled the answer and
        # dispatched again (under load, a twentieth of the cores' time went idle so).
        ahead: Job | None = None
        try:
            while True:
                if self._workers[slot] is None:
                    if ahead is not None:  # the lost worker never began it
                        self.sent_ahead -= 1
                        self._requeue(ahead)
                        ahead = None
                    self._workers[slot] = await self._respawn(failures)
                    failures = 0 if self._workers[slot] else failures + 1
                    if self._workers[slot] is None:
                        continue
                if ahead is not None:
                    job, ahead = ahead, None  # already sent
                    self.sent_ahead -= 1
                else:
                    self._slots_waiting += 1
                    try:
                        job = await self.queue.get()
                    finally:
                        self._slots_waiting -= 1
                    if not self._admit(job, asyncio.get_running_loop().time()):
                        continue
                    self._start(slot, job)
                ahead = self._send_ahead(slot, job)
                try:
                    await self._run_job(slot, job)
                finally:
                    self._finish(job)
        except asyncio.CancelledError:
            if ahead is not None:
                self.sent_ahead -= 1
                _fail(ahead, NotReadyError("the service is shutting down", retry_after_s=1))
                self._finish(ahead)
            raise

    def _admit(self, job: Job, start_at: float) -> bool:
        """Whether ``job``, taken from the queue, may start at ``start_at`` (loop time)."""
        if job.future.done():
            return False  # its caller is gone; _dropped() has done (or will do) the counting
        start_by = self.latest_start(job)
        if start_by is not None and start_at > start_by:
            # Too little time is left (spent waiting, or receiving the body) to finish it:
            # refuse it as overload; _dropped() does the counting.
            _fail(job, OverloadedError("no worker became free in time for this request; "
                                       "try again shortly", retry_after_s=self.retry_after_s()))
            return False
        return True

    def _start(self, slot: int, job: Job) -> None:
        """Count ``job`` as running and send it to the slot's worker."""
        job.started = True
        self.waiting -= 1
        self.busy += 1
        self.queued_units -= job.units
        self.running_units += job.units
        worker = self._workers[slot]
        assert worker is not None
        worker.send({"op": job.op, "corpus": job.corpus, "args": job.args})

    def _finish(self, job: Job) -> None:
        self.busy -= 1
        self.running_units -= job.units
        self._check_idle()

    def _send_ahead(self, slot: int, running: Job) -> Job | None:
        """The next queued job, sent now to follow ``running`` on this slot's worker; None
        when none is queued beyond what idle slots are about to take (a job must not wait
        behind another while a worker is free). Admission is judged at the time it will
        likely start."""
        start_at = asyncio.get_running_loop().time() + running.units * self.unit_s
        while self.queue.qsize() > self._slots_waiting:
            job = self.queue.get_nowait()
            if self._admit(job, start_at):
                self._start(slot, job)
                self.sent_ahead += 1
                return job
        return None

    def _requeue(self, job: Job) -> None:
        """Put back a job sent ahead to a worker that was lost before it began it."""
        self._finish(job)
        job.started = False
        if job.future.done():
            return
        self.waiting += 1
        self.queued_units += job.units
        self._idle.clear()
        self.queue.put_nowait(job)

    async def _run_job(self, slot: int, job: Job) -> None:
        """Wait for the answer to ``job``, already sent to the slot's worker."""
        worker = self._workers[slot]
        assert worker is not None
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        budget = max(0.0, job.deadline - loop.time()) + HANG_GRACE_S
        try:
            reply = await asyncio.wait_for(worker.reply(), budget)
        except asyncio.CancelledError:
            _fail(job, NotReadyError("the service is shutting down", retry_after_s=1))
            raise
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
        # Up at once to a slower job's rate, down gradually: refusing early costs a retry,
        # admitting what cannot finish costs a worker's time and a 504. A job sent ahead
        # is timed from its predecessor's answer, when its worker began it.
        rate = (time.perf_counter() - started) / job.units
        self.unit_s = max(rate, 0.8 * self.unit_s + 0.2 * rate)
        if job.future.done():
            return  # the caller left; the result is discarded
        if "ok" in reply:
            job.future.set_result(reply["ok"])
        elif "ok_encoded" in reply:
            meta = reply["ok_encoded"]
            job.future.set_result(EncodedResult(reply["attachment"], meta["summary"],
                                                meta["engine_ms"]))
        else:
            _fail(job, RemoteError(reply.get("error", {})))

    def _lost(self, slot: int, cause: str) -> None:
        worker = self._workers[slot]
        self._workers[slot] = None
        self.alive -= 1
        self._on_restart(cause)
        if worker is not None:
            log.warning("worker_lost", pid=worker.pid, cause=cause)
            task = asyncio.create_task(worker.stop(kill=True))
            self._stopping.add(task)  # reaped here, awaited by close()
            task.add_done_callback(self._stopping.discard)

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
        await asyncio.gather(*(w.stop() for w in workers), *self._stopping)


def _fail(job: Job, exc: DocVouchError) -> None:
    if not job.future.done():
        job.future.set_exception(exc)
        job.future.exception()  # mark retrieved: the caller may have gone already
