"""Page extraction in child processes with a memory cap and a per-page deadline.

Parsing hostile HTML is where an ingest can blow up: a page that makes libxml2 or
trafilatura allocate without bound, loop, or crash must cost that page, not the build.
So every page is extracted in a worker process that runs under ``RLIMIT_AS``
(``Limits.memory_bytes``); the parent gives each page ``Limits.page_timeout_s``, kills a
worker that overruns it or dies, starts a fresh one, and records the page as skipped with
the reason. A ``MemoryError`` inside a worker rejects the page and recycles the worker.

:class:`ExtractorPool` is thread-safe and returns ``concurrent.futures.Future`` objects, so
the synchronous folder ingest (``map``) and the asyncio crawler (``asyncio.wrap_future``)
share it. Workers are fresh interpreters (``python -m docvouch.ingest.isolation``) talking
over their stdin/stdout: nothing is inherited, and the caller's ``__main__`` is never
re-imported (as multiprocessing's spawn would).
"""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, BinaryIO

from docvouch.ingest.hostile import Limits, PageRejected

Job = dict[str, Any]
Result = dict[str, Any]  # {"result": {...}} or {"rejected": reason}
_HEADER = struct.Struct("!Q")


def _limit_memory(memory_bytes: int) -> None:
    import resource

    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def write_frame(stream: BinaryIO, message: Any) -> None:
    """One length-prefixed pickle frame (both ends are this module: the data is ours)."""
    blob = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(blob)) + blob)
    stream.flush()


def read_frame(stream: BinaryIO) -> Any:
    """The next frame; EOFError when the other end is gone."""
    header = _read_exactly(stream, _HEADER.size)
    return pickle.loads(_read_exactly(stream, _HEADER.unpack(header)[0]))


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError("extractor pipe closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def worker_main(memory_bytes: int) -> None:
    """Child process: set the memory cap, then extract jobs until stdin closes.

    Frames go out on the original stdout; fd 1 is pointed at stderr so that a library that
    prints cannot corrupt the stream.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    _limit_memory(memory_bytes)
    from docvouch.ingest.extract import extract_job

    while True:
        try:
            job = read_frame(inp)
        except (EOFError, OSError):
            return
        if job is None:
            return
        reply, recycle = _run_job(extract_job, job, memory_bytes)
        reply["recycle"] = recycle
        try:
            write_frame(out, reply)
        except (OSError, ValueError):
            return
        if recycle:
            return


def _run_job(extract_job: Any, job: Job, memory_bytes: int) -> tuple[Result, bool]:
    try:
        return {"result": extract_job(job)}, False
    except PageRejected as exc:
        return {"rejected": exc.reason}, False
    except MemoryError:
        # the heap may be fragmented past use: answer, then let the parent start a new one
        return {"rejected": f"over the {memory_bytes // (1024 * 1024)} MiB memory limit "
                            "while extracting"}, True
    except RecursionError:
        return {"rejected": "structure too deeply nested to extract"}, False
    except Exception as exc:  # a bug or a parser failure: skip the page, say why
        return {"rejected": f"extraction failed: {type(exc).__name__}: {exc}"[:300]}, False


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes]
    job: tuple[Job, Future[Result]] | None = None
    deadline: float = 0.0

    @property
    def stdout(self) -> BinaryIO:
        assert self.process.stdout is not None
        return self.process.stdout  # type: ignore[return-value]

    @property
    def stdin(self) -> BinaryIO:
        assert self.process.stdin is not None
        return self.process.stdin  # type: ignore[return-value]


class ExtractorPool:
    """``workers`` isolated extractor processes behind a thread-safe ``submit``."""

    def __init__(self, *, workers: int = 0, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.size = max(1, workers or min(4, os.cpu_count() or 1))
        self._queue: collections.deque[tuple[Job, Future[Result]]] = collections.deque()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._closed = False
        self.restarts = 0
        self._thread = threading.Thread(target=self._run, name="docvouch-extract", daemon=True)
        self._thread.start()

    # --- public API ----------------------------------------------------------------------

    def submit(self, job: Job) -> Future[Result]:
        """Queue one page; the future resolves to ``{"result": ...}`` or ``{"rejected": ...}``."""
        future: Future[Result] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the extractor pool is closed")
            self._queue.append((job, future))
        self._wake()
        return future

    def map(self, jobs: Iterable[Job]) -> Iterator[Result]:
        """Results in the order of ``jobs`` (all submitted at once)."""
        futures = [self.submit(job) for job in jobs]
        for future in futures:
            yield future.result()

    def close(self) -> None:
        """Stop accepting jobs, stop the workers, cancel what was still queued."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        self._thread.join(timeout=30)
        with contextlib.suppress(OSError):
            os.close(self._wake_r)
        with contextlib.suppress(OSError):
            os.close(self._wake_w)

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- dispatcher thread ---------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    closing = self._closed
                if closing:
                    break
                self._assign()
                self._wait_once()
        finally:
            self._shutdown()

    def _assign(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                idle = next((w for w in self._workers if w.job is None), None)
                if idle is None and len(self._workers) >= self.size:
                    return
                job, future = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            worker = idle or self._start_worker()
            try:
                write_frame(worker.stdin, job)
            except (OSError, ValueError):
                self._replace(worker)
                future.set_result({"rejected": "extractor process could not take the page"})
                continue
            worker.job = (job, future)
            worker.deadline = time.monotonic() + self.limits.page_timeout_s

    def _wait_once(self) -> None:
        busy = [w for w in self._workers if w.job is not None]
        timeout = None
        if busy:
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
        objects: list[Any] = [self._wake_r, *(w.stdout for w in busy)]
        ready = wait(objects, timeout=timeout)
        if self._wake_r in ready:
            with contextlib.suppress(OSError):
                os.read(self._wake_r, 4096)
        now = time.monotonic()
        for worker in busy:
            if worker.stdout in ready:  # a reply, or end of file if the worker died
                self._collect(worker)
            elif now >= worker.deadline:
                job = worker.job
                self._replace(worker)  # the replacement is counted before anyone hears back
                worker.job = job
                self._finish(worker, {"rejected": "extraction took longer than "
                                                  f"{self.limits.page_timeout_s:g} s"})

    def _collect(self, worker: _Worker) -> None:
        try:
            reply = read_frame(worker.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            reason = self._death_reason(worker)
            job = worker.job
            self._replace(worker)
            worker.job = job
            self._finish(worker, {"rejected": reason})
            return
        recycle = reply.pop("recycle", False)
        if recycle:
            job = worker.job
            self._replace(worker)
            worker.job = job
        self._finish(worker, reply)

    @staticmethod
    def _finish(worker: _Worker, reply: Result) -> None:
        if worker.job is not None:
            _job, future = worker.job
            worker.job = None
            if not future.done():
                future.set_result(reply)

    def _death_reason(self, worker: _Worker) -> str:
        try:
            code = worker.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            return f"extractor process killed by {name} (memory limit or parser crash)"
        return f"extractor process exited with status {code}"

    def _start_worker(self) -> _Worker:
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)}
        process = subprocess.Popen(
            [sys.executable, "-m", "docvouch.ingest.isolation", "--worker",
             str(self.limits.memory_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
        worker = _Worker(process)
        self._workers.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        self._stop(worker, kill=True)
        self._workers.remove(worker)
        self.restarts += 1

    @staticmethod
    def _stop(worker: _Worker, *, kill: bool) -> None:
        if not kill:
            with contextlib.suppress(OSError, ValueError):
                write_frame(worker.stdin, None)
        with contextlib.suppress(OSError, ValueError):
            worker.stdin.close()
        if kill and worker.process.poll() is None:
            worker.process.kill()
        try:
            worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait(timeout=5)
        with contextlib.suppress(OSError):
            worker.stdout.close()

    def _shutdown(self) -> None:
        for worker in list(self._workers):
            if worker.job is not None:
                self._finish(worker, {"rejected": "ingest stopped"})
            self._stop(worker, kill=False)
        self._workers.clear()
        with self._lock:
            pending = list(self._queue)
            self._queue.clear()
        for _job, future in pending:
            future.cancel()


def main(argv: list[str] | None = None) -> int:
    """``python -m docvouch.ingest.isolation --worker MEMORY_BYTES``: one extractor process."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "--worker":
        print("usage: python -m docvouch.ingest.isolation --worker MEMORY_BYTES", file=sys.stderr)
        return 2
    worker_main(int(args[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
