"""Code that runs inside the service's child processes, and the frame format they speak.

Two kinds of child, both started by ``workers.py`` from a forkserver that has this module
(and so numpy, scipy, bm25s and the engine) preloaded, so a new child costs a fork, not an
interpreter start:

* a worker (:func:`run_worker`) maps every corpus index once, says ``ready`` with the
  corpora it opened, then answers ``verify``/``search`` jobs until its socket closes;
* a builder (:func:`run_builder`) builds the default corpus on first run, streaming
  progress lines, so that CPU-heavy build never runs on the server's event loop.

Frames, both ways: a 4-byte big-endian length, then an orjson object. An object with an
``attachment`` count is followed by that many raw bytes: a verify result travels as the
JSON bytes of its response body, encoded once here, so the server neither parses nor
re-encodes them (that was a tenth of the server loop's time under load).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import struct
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from docvouch import accel
from docvouch.cache import EncodedResult
from docvouch.engine import Engine
from docvouch.errors import DocVouchError

HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 256 * 1024 * 1024
WORKER_NICE = 5  # added to a worker's niceness: the server's event loop comes first


def problem_of(exc: BaseException) -> dict[str, Any]:
    """An exception as plain data that the parent turns back into an HTTP problem."""
    if isinstance(exc, DocVouchError):
        safe = {k: v for k, v in exc.extra.items() if isinstance(v, str | int | float | bool)}
        return {"code": exc.code, "status": exc.status, "detail": exc.detail, "extra": safe}
    # The message may quote the answer; only the type and the frames travel (see logs.py).
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return {"code": "internal", "status": 500, "detail": "verification failed",
            "exc_type": type(exc).__name__, "frames": frames}


def send(stream: BinaryIO, message: dict[str, Any], attachment: bytes | None = None) -> None:
    if attachment is not None:
        message = {**message, "attachment": len(attachment)}
    body = orjson.dumps(message)
    # One write, so one send: the reply's header alone would wake the server (nice 0)
    # ahead of this process, only for it to sleep again until the attachment came.
    stream.write(b"".join((HEADER.pack(len(body)), body, attachment or b"")))
    stream.flush()


def receive(stream: BinaryIO) -> dict[str, Any] | None:
    """The next frame, or None when the parent closed the socket."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    if size > MAX_FRAME_BYTES:
        return None
    body = stream.read(size)
    return orjson.loads(body) if len(body) == size else None


def _detach_from_signals() -> None:
    # Ctrl-C and `systemctl stop` signal the whole process group; the parent decides when a
    # worker stops (after draining), so the worker ignores both and exits on socket EOF.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _yield_to_the_server() -> None:
    # The server's single event loop answers /healthz, refuses the excess of a flood and
    # hands these workers their jobs: on a busy machine it must not wait for a CPU behind
    # the verifications it dispatches (under the 1,000-connection flood, the loop's slow
    # iterations spent up to half their time waiting for one). Idle CPU is the workers'
    # all the same. Not more than 5: the nicer they are, the more other processes on the
    # machine can slow a job down past the deadline it was admitted for (504s seen at 10).
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no os.nice here
        os.nice(WORKER_NICE)


def run_worker(sock: socket.socket, builds: dict[str, str], verify_checksums: bool) -> None:
    """Worker process entry: open every corpus, report, then serve jobs until EOF."""
    _detach_from_signals()
    _yield_to_the_server()
    with _quiet_if_the_server_is_gone():
        _serve_jobs(sock, builds, verify_checksums)


@contextlib.contextmanager
def _quiet_if_the_server_is_gone() -> Iterator[None]:
    # A server killed outright (SIGKILL, the OOM killer) leaves its children a closed
    # socket: nobody is left to answer, so exit at once, without a traceback per child in
    # the service's journal beside the kill that matters.
    with contextlib.suppress(ConnectionError):
        yield


def _serve_jobs(sock: socket.socket, builds: dict[str, str], verify_checksums: bool) -> None:
    with sock, sock.makefile("rwb") as stream:
        engines: dict[str, Engine] = {}
        errors: dict[str, str] = {}
        for name, directory in builds.items():
            try:
                engines[name] = Engine.open(Path(directory), verify_checksums=verify_checksums)
            except DocVouchError as exc:
                errors[name] = exc.detail
        corpora = {name: {**engine.info(), "index_bytes": _tree_bytes(Path(builds[name]))}
                   for name, engine in engines.items()}
        # The loaded corpora are hundreds of thousands of objects that live as long as the
        # worker: out of the collector's sight, a full collection no longer rescans them
        # (measured: one 166 ms pause every ~100 answers at 100k passages, now none).
        gc.freeze()
        # How this process imported the engine: /metrics counts the workers by it, so an
        # operator sees what the verifications run on, not only the server's own import.
        send(stream, {"ready": corpora, "errors": errors, "pid": os.getpid(),
                      "engine": accel.state().label})
        while (job := receive(stream)) is not None:
            send(stream, *_answer(engines, job))


def _answer(engines: dict[str, Engine], job: dict[str, Any]
            ) -> tuple[dict[str, Any], bytes | None]:
    """The reply to one job, and the bytes attached to it (a verify result's body)."""
    try:
        engine = engines[job["corpus"]]
        if job["op"] == "verify":
            encoded = EncodedResult.of(engine.verify(**job["args"]))
            return ({"ok_encoded": {"summary": encoded.summary, "engine_ms": encoded.engine_ms}},
                    encoded.body)
        if job["op"] == "search":
            return {"ok": engine.search(**job["args"])}, None
        raise ValueError(f"unknown op {job['op']!r}")
    except Exception as exc:  # one bad input must cost a 500, not the worker
        return {"error": problem_of(exc)}, None


def _tree_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def run_builder(sock: socket.socket, home: str) -> None:
    """Builder process entry: make sure the default corpus exists, streaming progress."""
    _detach_from_signals()
    from docvouch.store import ensure_default_index

    with _quiet_if_the_server_is_gone(), sock, sock.makefile("rwb") as stream:
        try:
            path = ensure_default_index(
                Path(home), progress=lambda line: send(stream, {"progress": line}))
        except Exception as exc:  # reported to the parent, which logs it and stays up
            send(stream, {"error": problem_of(exc)})
        else:
            send(stream, {"done": str(path)})
