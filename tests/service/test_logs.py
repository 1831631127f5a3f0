"""Access logs say what happened (request id, route, status, time, claim counts), never what
the user wrote, unless ``log_answers`` is switched on for debugging."""

from __future__ import annotations

import io
import logging

import orjson
import structlog
from structlog.testing import capture_logs

from docvouch import logs
from docvouch.settings import build_settings

SECRET = "Zanzibar-7741 says `os.path.isdirectory(p)` checks my-private-folder."


async def test_answer_and_query_text_never_reach_the_logs(make_client) -> None:
    client = await make_client(workers=1)
    with capture_logs() as events:
        async with client.post("/v1/verify", json={"text": SECRET}) as response:
            assert response.status == 200
        async with client.post("/v1/verify", json={"text": SECRET, "txet": 1}) as response:
            assert response.status == 422
        async with client.get("/v1/search", params={"q": "Zanzibar-7741 private"}) as response:
            assert response.status == 200
    assert "Zanzibar" not in repr(events)
    assert "my-private-folder" not in repr(events)
    verify_line = next(e for e in events if e.get("route") == "/v1/verify"
                       and e["status"] == 200)
    assert verify_line["event"] == "request"
    assert len(verify_line["request_id"]) == 32
    assert verify_line["duration_ms"] > 0
    assert verify_line["summary"]["claims"] == 1
    assert verify_line["summary"]["contradicted"] == 1
    assert verify_line["cache"] == "miss" and verify_line["corpus"] == "python"
    assert {e["status"] for e in events if e.get("event") == "request"} == {200, 422}


async def test_log_answers_switch_puts_the_text_in_the_access_line(make_client) -> None:
    client = await make_client(workers=1, log_answers=True)
    with capture_logs() as events:
        async with client.post("/v1/verify", json={"text": SECRET}) as response:
            assert response.status == 200
    (line,) = [e for e in events if e.get("route") == "/v1/verify"]
    assert line["answer"] == SECRET


def test_configured_output_is_one_json_object_per_line() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure(build_settings({"log_format": "json"}), stream=stream)
        logs.get_logger("docvouch.test").info("request", route="/v1/verify", status=200)
        structlog.get_logger().warning("other", n=1)
    finally:
        structlog.reset_defaults()
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("aiohttp.access").disabled = False
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "request" and lines[0]["component"] == "docvouch.test"
    assert lines[0]["level"] == "info" and lines[0]["timestamp"].endswith("Z")
    assert lines[1]["level"] == "warning"
