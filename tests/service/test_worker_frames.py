"""The frames between the server and its workers, over a real socket pair."""

from __future__ import annotations

import asyncio
import socket

import orjson
import pytest

from docvouch import worker_main
from docvouch.workers import read_frame


async def _exchange(write) -> dict:
    """What read_frame makes of the bytes ``write(stream)`` sends through a socket pair."""
    ours, theirs = socket.socketpair()
    with theirs, theirs.makefile("rwb") as stream:
        reader, writer = await asyncio.open_connection(sock=ours)
        try:
            write(stream)
            return await asyncio.wait_for(read_frame(reader), 5)
        finally:
            writer.close()


async def test_a_verify_result_arrives_as_the_bytes_the_worker_encoded() -> None:
    body = orjson.dumps({"score": 50, "claims": [{"text": "é ✓ \u2028"}]})
    message = await _exchange(lambda stream: worker_main.send(
        stream, {"ok_encoded": {"summary": {"claims": 1}, "engine_ms": 3.5}}, body))
    assert message["attachment"] == body  # byte for byte: the server never re-encodes it
    assert message["ok_encoded"] == {"summary": {"claims": 1}, "engine_ms": 3.5}


async def test_an_empty_attachment_is_still_announced() -> None:
    message = await _exchange(lambda stream: worker_main.send(stream, {"ok_encoded": {}}, b""))
    assert message["attachment"] == b""


async def test_a_frame_without_attachment_is_read_as_before() -> None:
    message = await _exchange(lambda stream: worker_main.send(stream, {"ok": [1, 2]}))
    assert message == {"ok": [1, 2]}


@pytest.mark.parametrize("count", [-1, "12", worker_main.MAX_FRAME_BYTES + 1])
async def test_an_impossible_attachment_count_is_a_broken_worker(count: object) -> None:
    def write(stream) -> None:
        head = orjson.dumps({"ok_encoded": {}, "attachment": count})
        stream.write(worker_main.HEADER.pack(len(head)) + head)
        stream.flush()

    with pytest.raises(ConnectionError, match="attachment"):
        await _exchange(write)
