"""What the image does at run time, exercised without a container engine.

There is no Docker engine here, so the image cannot be built or run. What can be run is the
same process the image runs, with the final stage's environment from deploy/Dockerfile, on
a root filesystem made read-only in a private mount namespace (``unshare``) with only a
tmpfs /tmp writable, as ``read_only: true`` + ``tmpfs: /tmp`` (Compose) and
``readOnlyRootFilesystem`` + an emptyDir /tmp (Kubernetes) give it. The Dockerfile's
HEALTHCHECK and the Compose healthcheck commands are then run against it as written.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml
from deploy_support import API_KEY, DEPLOY, dockerfile_stages, env_pairs, need

from docvouch.auth import hash_key

pytestmark = pytest.mark.timeout(120)


def runtime_env() -> dict[str, str]:
    """The final stage's ENV (DOCVOUCH_* and PYTHON* only; PATH is the image's own)."""
    env: dict[str, str] = {}
    for keyword, rest in dockerfile_stages()[-1]:
        if keyword == "ENV":
            env.update(env_pairs(rest))
    return {k: v for k, v in env.items() if k.startswith(("DOCVOUCH_", "PYTHON"))}


def healthcheck_argv() -> list[str]:
    (rest,) = [rest for keyword, rest in dockerfile_stages()[-1] if keyword == "HEALTHCHECK"]
    return json.loads(rest[rest.index("CMD ") + 4:])


def compose_healthcheck_argv() -> list[str]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    test = compose["services"]["docvouch"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    return test[1:]


def as_local(argv: list[str]) -> list[str]:
    """The image's ``python`` is its virtual environment's; here it is this interpreter."""
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_the_image_environment_refuses_to_start_without_keys(tmp_path: Path) -> None:
    """The image binds 0.0.0.0; without DOCVOUCH_API_KEYS the service must refuse (it fails
    in settings, before binding anything)."""
    env = {**os.environ, **runtime_env(), "DOCVOUCH_HOME": str(tmp_path)}
    env.pop("DOCVOUCH_API_KEYS", None)
    assert env["DOCVOUCH_HOST"] == "0.0.0.0"
    done = subprocess.run([sys.executable, "-m", "docvouch", "serve"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "api_keys" in done.stderr


def test_the_image_process_serves_on_a_read_only_root_and_passes_its_healthchecks(
        docvouch_home: Path, loopback, tmp_path: Path) -> None:
    need(os.geteuid() == 0 and shutil.which("unshare"),
         "root and unshare (a private mount namespace)")
    port, health_port = loopback.free_port(), loopback.free_port()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, **runtime_env(),
           # What differs from the image: the index path, loopback instead of 0.0.0.0 (this
           # machine's tests use loopback only), a key, one worker.
           "DOCVOUCH_HOME": str(docvouch_home), "DOCVOUCH_HOST": "127.0.0.1",
           "DOCVOUCH_PORT": str(port), "DOCVOUCH_HEALTH_PORT": str(health_port),
           "DOCVOUCH_API_KEYS": hash_key(API_KEY),
           "DOCVOUCH_WORKERS": "1", "TMPDIR": str(scratch)}
    script = ('mount -t tmpfs -o size=64m,mode=1777 tmpfs "$1" && '
              'mount -o remount,bind,ro / && shift && exec "$@"')
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
             str(scratch), sys.executable, "-m", "docvouch", "serve"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    try:
        asyncio.run(loopback.wait_ready(f"http://127.0.0.1:{port}", 60,
                                        alive=lambda: process.poll() is None))

        async def verify() -> int:
            async with aiohttp.ClientSession() as session, session.post(
                    f"http://127.0.0.1:{port}/v1/verify",
                    headers={"Authorization": f"Bearer {API_KEY}"},
                    json={"text": "Call `json.dumps(obj, indent=2)`."}) as response:
                return response.status

        assert asyncio.run(verify()) == 200
        # The service really sees / read-only and its /tmp as a tmpfs.
        mounts = [line.split() for line in
                  Path(f"/proc/{process.pid}/mountinfo").read_text().splitlines()]
        root_options = [m[5] for m in mounts if m[4] == "/"][-1].split(",")
        assert "ro" in root_options, root_options
        assert any(m[4] == str(scratch) and "tmpfs" in m for m in mounts)
        check_env = {**os.environ, "DOCVOUCH_PORT": str(port),
                     "DOCVOUCH_HEALTH_PORT": str(health_port)}
        for argv in (healthcheck_argv(), compose_healthcheck_argv()):
            done = subprocess.run(as_local(argv), env=check_env, capture_output=True,
                                  text=True, timeout=10, check=False)
            assert done.returncode == 0, (argv, done.stderr)
        process.terminate()  # unshare exec'd sh, which exec'd the service: same pid
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)
    text = log_path.read_text(errors="replace")
    assert "Read-only file system" not in text, text[-2000:]
    levels = [json.loads(line).get("level") for line in text.splitlines()
              if line.startswith("{")]
    assert "error" not in levels, text[-2000:]
    # Nothing was written into the index: the root really was read-only for the service.
    assert not list(docvouch_home.rglob("*.tmp*"))


def test_a_failing_healthcheck_fails() -> None:
    """The HEALTHCHECK command exits non-zero when nothing answers (no false health)."""
    env = {**os.environ, "DOCVOUCH_PORT": "1", "DOCVOUCH_HEALTH_PORT": "1"}  # nothing on 1
    done = subprocess.run(as_local(healthcheck_argv()), env=env, capture_output=True,
                          timeout=10, check=False)
    assert done.returncode != 0
