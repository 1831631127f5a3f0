"""Work stays off the event loop: health under load, the queue bound, deadlines, dead workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import pytest
from aiohttp.test_utils import TestClient
from service_support import max_size_answer

from docvouch import generation
from docvouch.keys import POOL


async def metric(client: TestClient, line_start: str) -> float:
    async with client.get("/metrics") as response:
        text = await response.text()
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(line_start)]
    return sum(values)


async def poll(predicate, *, deadline_s: float = 10.0, what: str = "condition") -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what} not reached within {deadline_s} s")


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
async def test_healthz_answers_under_50ms_while_workers_verify_max_size_answers(
        shared: TestClient) -> None:
    async def verify(seed: int) -> int:
        async with shared.post("/v1/verify", json={"text": max_size_answer(seed)}) as response:
            await response.read()
            return response.status

    load = [asyncio.create_task(verify(1000 + i)) for i in range(6)]
    await poll(lambda: metric_positive(shared), what="workers busy")
    latencies = []
    while not all(task.done() for task in load):
        started = time.perf_counter()
        async with shared.get("/healthz") as response:
            assert response.status == 200
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    assert await asyncio.gather(*load) == [200] * 6
    assert len(latencies) >= 10
    ordered = sorted(latencies)
    # Most probes must meet the 50 ms goal; on 2 shared cores the OS may still park the
    # loop for a scheduler slice now and then. A verify run on the loop would block it for
    # seconds (a max-size answer), which the bound on the slowest probe rules out.
    assert ordered[len(ordered) // 2] < 0.050, ordered[-5:]
    assert ordered[int(len(ordered) * 0.9)] < 0.050, ordered[-5:]
    assert ordered[-1] < 1.0, ordered[-5:]


async def metric_positive(client: TestClient) -> bool:
    return await metric(client, "docvouch_workers_busy") > 0


async def test_past_the_queue_bound_requests_get_503_with_retry_after(make_client) -> None:
    client = await make_client(workers=1, queue_max=1)
    answers = [max_size_answer(2000 + i) for i in range(6)]

    details: list[str] = []

    async def verify(text: str) -> tuple[int, float, str | None]:
        started = time.perf_counter()
        async with client.post("/v1/verify", json={"text": text}) as response:
            body = await response.json(content_type=None)
            if response.status == 503:
                details.append(body["detail"])
            return (response.status, time.perf_counter() - started,
                    response.headers.get("Retry-After"))

    results = await asyncio.gather(*(verify(text) for text in answers))
    statuses = sorted(status for status, _t, _r in results)
    # One running, one waiting; the other four are refused at once.
    assert statuses == [200, 200, 503, 503, 503, 503], results
    for status, took, retry_after in results:
        if status == 503:
            assert took < 0.1 + 0.1  # refused without waiting (plus loopback and parsing)
            assert retry_after is not None and int(retry_after) >= 1
    assert await metric(client, 'docvouch_rejected_total{reason="overloaded"}') == 4
    assert all("every worker is busy" in d and "queue_max 1" in d for d in details), details


async def test_a_request_past_its_deadline_gets_504_and_the_service_recovers(
        make_client) -> None:
    client = await make_client(workers=1, request_deadline_s=0.3)
    (pid,) = client.app[POOL].generation.pids()
    # A worker slower than the deadline: stopped until the request has had its answer
    # (a max-size answer used to outlast a short deadline; the faster engine no longer does).
    os.kill(pid, signal.SIGSTOP)
    try:
        async with client.post("/v1/verify", json={"text": max_size_answer(3000)}) as response:
            problem = await response.json()
    finally:
        os.kill(pid, signal.SIGCONT)  # well inside HANG_GRACE_S: slow, not hung
    assert response.status == 504 and problem["code"] == "deadline_exceeded"
    async with client.post("/v1/verify", json={"text": "Use `os.getcwd()`."}) as response:
        # The worker may still be finishing the first: this one then waits (504), or is
        # refused at once because that job would outlast its deadline (503).
        assert response.status in (200, 503, 504)
    await poll(lambda: idle(client), what="worker idle again")
    async with client.post("/v1/verify", json={"text": "Use `os.getcwd()` now."}) as response:
        assert response.status == 200


async def idle(client: TestClient) -> bool:
    gen = client.app[POOL].generation
    return gen is not None and gen.busy == 0 and gen.waiting == 0


async def test_a_hung_worker_is_killed_and_replaced(make_client, monkeypatch) -> None:
    monkeypatch.setattr(generation, "HANG_GRACE_S", 0.0)  # treat "past the deadline" as hung
    client = await make_client(workers=1, request_deadline_s=0.5)
    pool = client.app[POOL]
    (first_pid,) = pool.generation.pids()
    # Stopped, the worker never answers, however fast the engine has become (a max-size
    # answer used to outlast a short deadline; since the engine sped up, it no longer did).
    os.kill(first_pid, signal.SIGSTOP)
    try:
        async with client.post("/v1/verify", json={"text": "Use `os.getcwd()` now."}) as response:
            assert response.status == 504
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(first_pid, signal.SIGCONT)
    await poll(lambda: replaced(client, first_pid), what="a new worker")
    assert await metric(client, 'docvouch_worker_restarts_total{cause="hung"}') == 1
    async with client.post("/v1/verify", json={"text": "Use `os.getcwd()` after."}) as response:
        assert response.status == 200


async def replaced(client: TestClient, old_pid: int) -> bool:
    gen = client.app[POOL].generation
    return gen.alive == 1 and gen.pids() not in ([], [old_pid])


async def test_a_worker_killed_mid_request_fails_that_request_cleanly_and_is_replaced(
        make_client) -> None:
    client = await make_client(workers=1)
    pool = client.app[POOL]
    (pid,) = pool.generation.pids()

    async def verify() -> tuple[int, dict]:
        async with client.post("/v1/verify", json={"text": max_size_answer(5000)}) as response:
            return response.status, await response.json()

    request = asyncio.create_task(verify())
    await poll(lambda: busy(client), what="the worker busy")
    os.kill(pid, signal.SIGKILL)
    status, problem = await request
    assert status == 503
    assert problem["code"] == "worker_lost"
    await poll(lambda: replaced(client, pid), what="a replacement worker")
    async with client.post("/v1/verify", json={"text": "Use `os.getcwd()` again."}) as response:
        assert response.status == 200
    assert await metric(client, 'docvouch_worker_restarts_total{cause="died"}') == 1


async def busy(client: TestClient) -> bool:
    return client.app[POOL].generation.busy > 0


async def test_disconnected_clients_leave_nothing_behind(make_client) -> None:
    client = await make_client(workers=1, queue_max=8)
    for round_ in range(3):
        tasks = [asyncio.create_task(client.post("/v1/verify", json={
            "text": max_size_answer(6000 + 10 * round_ + i)})) for i in range(4)]
        await poll(lambda: busy(client), what="work started")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await poll(lambda: idle(client), what="queue drained")
    async with client.get("/metrics") as response:
        text = await response.text()
    assert "docvouch_http_requests_in_flight 1.0" in text  # only this /metrics request
    async with client.post("/v1/verify", json={"text": "Still fine: `os.getcwd()`."}) as response:
        assert response.status == 200


async def test_identical_concurrent_answers_are_computed_once(make_client) -> None:
    client = await make_client(workers=2)
    text = max_size_answer(7000)

    async def verify() -> str:
        async with client.post("/v1/verify", json={"text": text}) as response:
            assert response.status == 200
            return response.headers["X-DocVouch-Cache"]

    states = await asyncio.gather(*(verify() for _ in range(5)))
    assert sorted(states) == ["joined", "joined", "joined", "joined", "miss"]


def cpu_ticks(pid: int) -> int:
    """User plus system clock ticks a process has used (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def test_a_job_waits_sent_ahead_behind_the_running_one_when_no_worker_is_free(
        make_client) -> None:
    client = await make_client(workers=1, queue_max=8)
    gen = client.app[POOL].generation

    async def verify(seed: int) -> int:
        async with client.post("/v1/verify", json={"text": max_size_answer(seed)}) as response:
            await response.read()
            return response.status

    tasks = [asyncio.create_task(verify(8000 + i)) for i in range(4)]
    # Once the first is answered: one running, one already sent to the worker behind it
    # (one worker, two jobs busy), one still queued.
    await poll(lambda: counts(gen, busy=2, waiting=1), what="a job sent ahead")
    # /metrics tells the worker running a job from the job sent ahead behind it.
    await poll(lambda: gauges_say(client, workers_busy=1, jobs_sent_ahead=1),
               what="the gauges of a job sent ahead")
    assert await asyncio.gather(*tasks) == [200] * 4
    assert await gauges_say(client, workers_busy=0, jobs_sent_ahead=0)
    await poll(lambda: idle(client), what="all done")


async def counts(gen: generation.Generation, *, busy: int, waiting: int) -> bool:
    return gen.busy == busy and gen.waiting == waiting


async def gauges_say(client: TestClient, **expected: float) -> bool:
    return all([await metric(client, f"docvouch_{name} ") == value
                for name, value in expected.items()])


async def test_a_job_sent_ahead_to_a_worker_that_dies_is_run_by_its_replacement(
        make_client) -> None:
    client = await make_client(workers=1)
    gen = client.app[POOL].generation
    (pid,) = gen.pids()

    async def verify(seed: int) -> tuple[int, dict]:
        async with client.post("/v1/verify", json={"text": max_size_answer(seed)}) as response:
            return response.status, await response.json()

    first = asyncio.create_task(verify(8100))
    await poll(lambda: busy(client), what="the worker busy")
    later = [asyncio.create_task(verify(8101 + i)) for i in range(2)]
    # The first is answered, the next runs and the last is sent ahead behind it.
    await poll(lambda: counts(gen, busy=2, waiting=0), what="a job sent ahead")
    os.kill(pid, signal.SIGKILL)
    assert (await first)[0] == 200
    answers = await asyncio.gather(*later)
    # The running job fails; the dead worker never began the one behind it, which is
    # queued again and answered by the replacement, not failed.
    assert sorted(status for status, _ in answers) == [200, 503]
    assert all(body["code"] == "worker_lost" for status, body in answers if status == 503)
    assert all(body["summary"]["claims"] > 0 for status, body in answers if status == 200)
    assert gen.pids() != [pid]
    await poll(lambda: idle(client), what="all done")


async def test_jobs_that_arrive_together_go_to_free_workers_not_behind_each_other(
        make_client) -> None:
    client = await make_client(workers=2)
    pool = client.app[POOL]
    pids = pool.generation.pids()
    before = [cpu_ticks(pid) for pid in pids]
    deadline = asyncio.get_running_loop().time() + 60
    # Both submitted in one turn of the loop, so both are queued when the first worker's
    # slot wakes: it must leave the second to the other, free worker.
    results = await asyncio.gather(*(
        pool.submit("verify", "python", {"text": max_size_answer(8200 + i)}, deadline=deadline)
        for i in range(2)))
    assert all(result.summary["claims"] > 0 for result in results)
    used = [cpu_ticks(pid) - start for pid, start in zip(pids, before, strict=True)]
    # Each worker verified one of the two answers (had the second been sent ahead behind
    # the first, one worker would have used all of the time).
    assert min(used) > 0.3 * sum(used), used
