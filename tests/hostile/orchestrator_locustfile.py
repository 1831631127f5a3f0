"""A minimal locustfile for RELIABILITY G3 (tests/hostile/test_orchestrator_stops.py).

Like deploy/load/locustfile.py, each user posts answers to ``POST /v1/verify`` with a first
line no other request has (so the result cache answers none of them), one after another
with 0.5 to 1.5 s of thinking between them; here every answer is about 1.5 KB. What differs
is the record: deploy's file names a failed request's exception type only
(``ConnectionError`` covers a refused connection and a reset one alike), while this one
appends one JSON line per request to the file named by ``DOCVOUCH_LOAD_EVENTS``, with its
wall-clock start and end, its status and what went wrong, classified:

* ``ok``: 200 with a JSON body that has ``claims``;
* ``busy``: 503 with Retry-After (the service's back-pressure);
* ``http``: any other status; ``bad_body``: a 200 whose body is not the JSON expected;
* ``refused``: the connection was refused (nothing listens);
* ``reset``: the connection was reset or closed before the response was complete;
* ``truncated``: the response ended before its announced length;
* ``timeout`` and ``other``.

A request also gets a ``{"start": ...}`` line when it is sent, so one that never ended
(still waiting when the run stopped) shows as a start without an end. The file also gets
``{"event": "spawned"}`` once every user is running. ``DOCVOUCH_API_KEY``,
when set, is sent as ``Authorization: Bearer KEY``.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time

from locust import HttpUser, between, events, task

EVENTS = os.environ.get("DOCVOUCH_LOAD_EVENTS", "load-events.jsonl")
PARAGRAPHS = [
    "To create a nested directory, use `os.makedirs(path, exist_ok=True)`. It creates all "
    "intermediate directories and does not raise an error if the leaf already exists.",
    "`json.dumps(obj, indent=2)` serializes an object to a JSON formatted string, and "
    "`json.loads(s)` deserializes a string containing a JSON document to a Python object.",
    "`collections.Counter` is a dict subclass for counting hashable objects, and "
    "`Counter.most_common(n)` returns the n most common elements with their counts.",
    "`subprocess.run(cmd, capture_output=True, text=True)` runs a command and waits for it "
    "to complete; pass `check=True` to raise `CalledProcessError` on a non-zero exit code.",
    "Before writing, check for a folder with `os.path.isdirectory(path)`, which returns "
    "True when the path is a directory.",
    "`functools.lru_cache(maxsize=128)` wraps a function with a memoizing callable that "
    "saves up to the maxsize most recent calls.",
    "`time.perf_counter()` returns the value of a performance counter, a clock with the "
    "highest available resolution to measure a short duration.",
    "`itertools.groupby(data, key)` makes an iterator that returns consecutive keys and "
    "groups from the iterable, so the data usually needs to be sorted on the same key.",
]
TARGET_CHARS = 1_500
_ids = itertools.count(1)
_out = open(EVENTS, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (one per process)


def record(**fields: object) -> None:
    _out.write(json.dumps(fields) + "\n")


@events.spawning_complete.add_listener
def _spawned(user_count: int, **_kwargs: object) -> None:
    record(event="spawned", t=time.time(), users=user_count)


def classify(error: BaseException) -> str:
    """The kind of a transport failure, from the exception and everything it wraps."""
    text = []
    todo: list[object] = [error]
    while todo:
        item = todo.pop()
        if isinstance(item, BaseException):
            text.append(f"{type(item).__name__}: {item}")
            todo += [item.__cause__, item.__context__, *item.args,
                     getattr(item, "reason", None)]
    joined = " | ".join(text)
    if "ConnectionRefusedError" in joined or "Connection refused" in joined:
        return "refused"
    if any(s in joined for s in ("IncompleteRead", "ChunkedEncodingError",
                                 "InvalidChunkLength", "ended prematurely")):
        return "truncated"
    if any(s in joined for s in ("RemoteDisconnected", "ConnectionResetError",
                                 "Connection reset", "Connection aborted", "BrokenPipe")):
        return "reset"
    if "Timeout" in joined or "timed out" in joined:
        return "timeout"
    return "other"


class VerifyUser(HttpUser):
    wait_time = between(0.5, 1.5)
    headers = ({"Authorization": f"Bearer {os.environ['DOCVOUCH_API_KEY']}"}
               if os.environ.get("DOCVOUCH_API_KEY") else {})

    def answer(self, request_id: int) -> str:
        rng = random.Random()
        parts = [f"Answer {os.getpid()}-{request_id}-{rng.random():.6f}: with the standard "
                 "library."]
        while sum(len(p) + 2 for p in parts) < TARGET_CHARS - 200:
            parts.append(rng.choice(PARAGRAPHS))
        return "\n\n".join(parts)

    def connections_opened(self) -> int:
        """How many connections this user's session has opened so far (urllib3's count)."""
        url = self.host + "/v1/verify"
        return self.client.get_adapter(url).poolmanager.connection_from_url(url).num_connections

    @task
    def verify(self) -> None:
        request_id = next(_ids)
        text = self.answer(request_id)
        opened = self.connections_opened()
        started = time.time()
        record(start=request_id, t0=started)
        with self.client.post("/v1/verify", json={"text": text}, timeout=30,
                              headers=self.headers, name="verify",
                              catch_response=True) as response:
            status = response.status_code
            kind, detail = "ok", ""
            if response.error is not None or status == 0:
                kind, detail = classify(response.error), repr(response.error)[:300]
            elif status == 200:
                try:
                    if "claims" not in response.json():
                        kind = "bad_body"
                except ValueError:
                    kind, detail = "bad_body", response.text[:200]
            elif status == 503 and response.headers.get("Retry-After"):
                kind = "busy"
            else:
                kind, detail = "http", response.text[:200]
            # reused: sent on a kept-alive connection (no new one was opened for it)
            record(id=request_id, t0=started, t1=time.time(), status=status, kind=kind,
                   detail=detail, reused=self.connections_opened() == opened)
            if kind in ("ok", "busy"):
                response.success()
            else:
                response.failure(f"{kind}: {detail[:120]}")
