"""Which engine a running service verifies with, as it reports it: the ``listening`` log
line and ``docvouch_build_info`` (the server process), and each worker's own word in
``docvouch_workers_by_engine``."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from server_process import ServerProcess
from service_support import wait_ready

from docvouch import accel

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("switch", [None, "0"], ids=["as-installed", "switched-off"])
async def test_the_service_reports_the_engine_its_workers_run(
        service_home: Path, tmp_path: Path, switch: str | None) -> None:
    expected = accel.state().label if switch is None else "python"
    env = {} if switch is None else {"accel": switch}  # DOCVOUCH_ACCEL for every process
    with ServerProcess(service_home, tmp_path / "serve.log", workers=2, **env) as server:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, server.base)
            async with session.get(server.base + "/metrics") as response:
                text = await response.text()
        listening = server.wait_for_log("listening")
    assert listening["engine"] == expected
    if switch is not None:
        assert listening["engine_reason"] == "off (DOCVOUCH_ACCEL=0)"
    assert re.search(rf'docvouch_build_info\{{[^}}]*engine="{expected}"', text), text
    by_engine = dict(re.findall(r'docvouch_workers_by_engine\{engine="(\w+)"\} (\S+)', text))
    assert by_engine == {expected: "2.0"}, by_engine
