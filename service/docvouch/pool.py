"""The service's view of its workers: loading, readiness, corpora, submit, reload, close.

States::

    loading ──▶ ready ◀──▶ (reload: a new generation replaces the old one)
       │          │
       ▼          ▼
    failed      closed

A failed start (no index, corrupt index, build error) keeps the server up and answering
``/healthz`` and ``/readyz`` (503 with the reason); a reload can still bring it to ready.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docvouch import worker_main
from docvouch.errors import (
    CorpusBuildError,
    DocVouchError,
    IndexMissingError,
    NotReadyError,
    OverloadedError,
    SchemaError,
    UnknownCorpusError,
)
from docvouch.generation import HANG_GRACE_S, Generation, Job
from docvouch.index import read_manifest
from docvouch.logs import get_logger
from docvouch.metrics import Metrics
from docvouch.settings import Settings
from docvouch.store import default_index_is_fresh
from docvouch.workers import RemoteError, joined, read_frame, start_child

log = get_logger("docvouch.pool")


def discover(home: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Every published corpus under ``home``: name → build directory, and name → problem."""
    builds: dict[str, Path] = {}
    problems: dict[str, str] = {}
    root = home / "indexes"
    for entry in sorted(root.iterdir()) if root.is_dir() else ():
        link = entry / "current"
        if entry.name.startswith(".") or not link.exists():
            continue
        try:
            directory = link.resolve(strict=True)
            read_manifest(directory)
        except DocVouchError as exc:
            problems[entry.name] = exc.detail
        except OSError as exc:
            problems[entry.name] = f"cannot read {link}: {exc.strerror}"
        else:
            builds[entry.name] = directory
    return builds, problems


class WorkerPool:
    """Owns the current generation of workers and everything that swaps it."""

    def __init__(self, settings: Settings, metrics: Metrics, home: Path) -> None:
        self.settings = settings
        self.metrics = metrics
        self.home = home
        self.state = "loading"
        # Set once the first generation serves (connections held after a not_ready 503
        # wait for it: connections.hold_until)
        self.ready_event = asyncio.Event()
        self.detail = "starting"
        self.generation: Generation | None = None
        self._reload_lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()
        self._reload_task: asyncio.Task[Any] | None = None

    # --- start-up and reload -------------------------------------------------------------

    async def load(self) -> None:
        """Build the default corpus if needed, then start the first workers."""
        try:
            if self.settings.build_default_index and not default_index_is_fresh(self.home):
                await self._build_default()
            async with self._reload_lock:
                await self._start_generation()
        except DocVouchError as exc:
            self.state, self.detail = "failed", exc.detail
            log.error("index_load_failed", code=exc.code, detail=exc.detail)

    async def _build_default(self) -> None:
        self.detail = f"building the default corpus under {self.home} (first run)"
        log.info("index_build_started", home=str(self.home))
        process, reader, writer = await start_child(worker_main.run_builder, str(self.home),
                                                    daemon=False)
        finished = False
        try:
            while not finished:
                frame = await read_frame(reader)
                if "progress" in frame:
                    self.detail = frame["progress"]
                    log.info("index_build_progress", progress=frame["progress"])
                elif "error" in frame:
                    raise RemoteError(frame["error"])
                else:
                    finished = True
                    log.info("index_build_done", path=frame.get("done"))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise CorpusBuildError("the index builder process died") from exc
        finally:
            writer.close()
            # Still running after an error or a cancellation (shutdown during the first
            # build): the build publishes atomically, so killing it leaves the home consistent.
            if not await asyncio.to_thread(joined, process, 5.0 if finished else 0.0):
                process.kill()
                await asyncio.to_thread(joined, process, 10.0)

    async def _start_generation(self) -> dict[str, str] | None:
        """Start workers on the published builds; None if nothing changed, else refusals.

        A corpus whose new build cannot be opened keeps its current build (the refusal is
        returned and logged); one that never loaded is listed as unavailable.
        """
        builds, problems = discover(self.home)
        old = self.generation
        refused: dict[str, str] = {}
        if old is not None:
            for name in [n for n in problems if n in old.corpora]:
                refused[name] = problems.pop(name)
                builds[name] = old.builds[name]
            if builds == old.builds:
                return refused or None
        if not builds:
            raise IndexMissingError(f"no corpus index under {self.home / 'indexes'}"
                                    + ("; " + "; ".join(problems.values()) if problems else ""))
        self.detail = "starting workers"
        generation = Generation(builds, self.settings, self._count_restart)
        await generation.start()
        broken = set(generation.errors) & set(old.corpora if old else ())
        if old is not None and broken:
            await generation.close(drain_s=0)
            for name in broken:
                refused[name] = generation.errors[name]
                builds[name] = old.builds[name]
            generation = Generation(builds, self.settings, self._count_restart)
            await generation.start()
        generation.errors.update(problems)
        for name, detail in refused.items():
            log.error("index_refused", corpus=name, detail=detail, kept=builds[name].name)
        self._swap(generation)
        return refused

    def _swap(self, generation: Generation) -> None:
        old, self.generation = self.generation, generation
        self.state, self.detail = "ready", "ready"
        self.ready_event.set()
        self.metrics.set_corpora(generation.corpora)
        log.info("index_loaded", corpora={k: v.name for k, v in generation.builds.items()},
                 unavailable=sorted(generation.errors), workers=generation.alive)
        if old is not None:
            # Jobs already queued on the old builds finish there; all have deadlines.
            drain = self.settings.request_deadline_s + HANG_GRACE_S
            task = asyncio.create_task(old.close(drain_s=drain))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def reload(self) -> dict[str, Any]:
        """Swap in newly published builds; the old workers keep serving until then."""
        if self.state in ("loading", "closed"):
            raise NotReadyError(f"cannot reload now: {self.detail}", retry_after_s=2)
        async with self._reload_lock:
            before = self.builds()
            try:
                refused = await self._start_generation()
            except DocVouchError as exc:
                self.metrics.reloads.labels("failed").inc()
                log.error("index_reload_failed", code=exc.code, detail=exc.detail)
                raise
        changed = self.builds() != before
        self.metrics.reloads.labels("changed" if changed else "unchanged").inc()
        log.info("index_reload", changed=changed, corpora=self.builds())
        return {"changed": changed, "corpora": self.builds(), "refused": refused or {}}

    def request_reload(self) -> None:
        """Reload in the background (SIGHUP); a reload already running absorbs the request."""
        if self._reload_task is not None and not self._reload_task.done():
            return

        async def run() -> None:
            with contextlib.suppress(DocVouchError):  # logged and counted by reload()
                await self.reload()

        self._reload_task = asyncio.create_task(run())

    def _count_restart(self, cause: str) -> None:
        self.metrics.worker_restarts.labels(cause).inc()

    # --- serving ---------------------------------------------------------------------

    def builds(self) -> dict[str, str]:
        gen = self.generation
        return {name: path.name for name, path in gen.builds.items()} if gen else {}

    def pick_corpus(self, name: str | None, *, field: str = "options.corpus") -> str:
        """The corpus a request asked for (or the default); a 422 names the field if unknown."""
        gen = self.ready_generation()
        loaded = sorted(gen.corpora)
        if name is None:
            if self.settings.default_corpus in gen.corpora:
                return self.settings.default_corpus
            if len(loaded) == 1:
                return loaded[0]
            raise SchemaError(field, f"required: several corpora are loaded ({', '.join(loaded)})")
        if name not in gen.corpora:
            raise UnknownCorpusError(field, f"no corpus named {name!r} is loaded; "
                                     f"available: {', '.join(loaded)}", available=loaded)
        return name

    def retry_after_s(self) -> int:
        """Seconds until the queue has likely drained (1 while nothing is loaded)."""
        return self.generation.retry_after_s() if self.generation is not None else 1

    def ready_generation(self) -> Generation:
        gen = self.generation
        if gen is None or self.state != "ready":
            if self.state == "failed":  # waiting will not help; a fixed index and a reload will
                raise NotReadyError(f"the index failed to load: {self.detail}; build or fix "
                                    "it, then reload (SIGHUP or POST /v1/admin/reload)",
                                    retry_after_s=30, state=self.state)
            raise NotReadyError(f"the index is not loaded yet: {self.detail}", retry_after_s=2,
                                state=self.state)
        return gen

    def check_admission(self, units: float, *, deadline: float) -> None:
        """Raise OverloadedError (503) if a job of ``units`` (``generation.units_of``) due
        at ``deadline`` would be refused by ``submit`` now: too many are waiting, or it
        would not get a worker in time to finish.

        Callers that have more to do before submitting ask first: a request whose body
        has not been read yet (priced by its declared length), the result cache's single
        flight (a task). A refusal is then one exception in the request's own task,
        rather than work done for nothing, or a task and a future failed with it
        (reference cycles that only the garbage collector frees).
        """
        self._admit(self.ready_generation(), units, deadline)

    def reserve_unread(self, units: float, *, deadline: float) -> Callable[[], None]:
        """``check_admission`` for a request whose body is still unread, priced by its
        declared length; its units then count as queued ahead of the next such request
        (``Generation.reading``) until the returned function is called (once the body is
        read, or given up). A burst of large bodies is so priced as the queue it will be,
        not each as if it came alone. Jobs whose text is read are not priced behind them:
        they are queued first."""
        gen = self.ready_generation()
        self._admit(gen, units, deadline, unread=True)
        gen.reading += 1
        gen.reading_units += units
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                gen.reading -= 1
                gen.reading_units -= units

        return release

    def _admit(self, gen: Generation, units: float, deadline: float, *,
               unread: bool = False) -> None:
        idle = max(0, gen.alive - gen.busy)
        reading = gen.reading if unread else 0
        waiting = gen.waiting + reading
        if waiting >= self.settings.queue_max + idle:
            raise OverloadedError(
                f"every worker is busy and the wait queue is full ({waiting} waiting, "
                f"queue_max {self.settings.queue_max}); try again shortly",
                retry_after_s=gen.retry_after_s())
        # Refuse now what would only time out later: the work queued ahead of this job, at
        # the recent time per unit, would leave too little of the deadline to run it.
        start_by = gen.latest_start_of(units, deadline)
        limit = start_by if start_by is not None else deadline
        loop = asyncio.get_running_loop()
        wait = gen.expected_wait_s(with_unread=unread)
        if waiting + gen.busy >= gen.alive and loop.time() + wait > limit:
            raise OverloadedError(
                f"the queue ahead would take about {wait:.1f} s, past this request's "
                "deadline; try again shortly", retry_after_s=gen.retry_after_s())

    async def submit(self, op: str, corpus: str, args: dict[str, Any], *, deadline: float
                     ) -> Any:
        """Run ``op`` on a worker; OverloadedError (503) rather than a later 504 when too many
        are waiting, or when this job would not get a worker in time to finish."""
        gen = self.ready_generation()
        job = Job(op, corpus, args, deadline, asyncio.get_running_loop().create_future())
        self._admit(gen, job.units, deadline)
        gen.submit(job)
        try:
            await _wait_for_start(gen, job)
            return await job.future
        except asyncio.CancelledError:
            job.future.cancel()  # the caller left: drop the job if it is still queued
            raise

    # --- shutdown ------------------------------------------------------------------------

    async def close(self, *, drain_s: float) -> None:
        """Stop every generation (after up to ``drain_s`` for queued work)."""
        self.state, self.detail = "closed", "shutting down"
        self.ready_event.set()  # release held connections: they get the shutdown's answer
        if self._reload_task is not None:
            self._reload_task.cancel()
        gens = [g for g in (self.generation,) if g is not None]
        self.generation = None
        await asyncio.gather(*(g.close(drain_s=drain_s) for g in gens), *self._retiring,
                             return_exceptions=True)


async def _wait_for_start(gen: Generation, job: Job) -> None:
    """Wait until a worker takes ``job``; refuse it (503) once it could not finish in time.

    The admission check in ``submit`` estimates from jobs that already ran; when the
    machine slows down (a flood) they were priced too cheap and too many are queued. They
    are refused here, or by the worker slot that takes one too late, as overload with
    Retry-After, instead of failing with 504 at their deadline.
    """
    loop = asyncio.get_running_loop()
    while not job.started:  # also set when the job's future finished before it started
        start_by = gen.latest_start(job)
        left = (start_by if start_by is not None else job.deadline) - loop.time()
        if start_by is not None and left <= 0:
            job.future.cancel()
            raise OverloadedError(
                "no worker became free in time for this request; try again shortly",
                retry_after_s=gen.retry_after_s())
        # Checked again at least every 0.25 s: the time per unit moves as jobs finish.
        await asyncio.wait([job.future], timeout=min(max(left, 0.05), 0.25))
