"""What ``docker compose stop`` and ``systemctl restart`` do to the service, without either.

This machine has no Docker engine and no systemd as PID 1, so RELIABILITY G3 and G4 are run
against emulations of the two orchestrators, built from what they do to a process (Docker's
and systemd's documented stop sequences) and configured from the deployment files
themselves: deploy/compose.yaml and deploy/Dockerfile for Compose, deploy/docvouch.service
for systemd. Nothing below hard-codes a setting those files hold.

Compose (``Container``), for the ``docvouch`` service:

* the container is a new PID namespace (``unshare --pid --fork --mount-proc``) with a
  private mount namespace in which ``/`` is read-only and ``/tmp`` a tmpfs (``read_only:
  true`` + ``tmpfs: /tmp``); ``init: true`` puts Debian's ``tini`` (the program Docker ships
  as ``docker-init``) at PID 1 with the service as its child, as ``docker-init -- docvouch
  serve`` does; without it the service itself is PID 1 (``docker run`` without ``--init``);
* the process is the image's ENTRYPOINT + CMD (``docvouch serve``, run as this
  interpreter's ``-m docvouch``) with the final stage's ENV and the Compose ``environment``
  (``${VAR:?...}`` interpolated from given variables), plus PATH and PYTHONPATH (if set)
  from the test's environment;
* ``stop`` sends ``stop_signal`` to the namespace's PID 1 only, waits ``stop_grace_period``,
  then SIGKILLs PID 1 (the kernel then kills the whole namespace, as at a container's end):
  the container's exit code is PID 1's status, 128 + signal if a signal ended it (137 for
  SIGKILL).

Not emulated: the network namespace (the service binds 127.0.0.1 on a free port of this
host's network instead of 0.0.0.0:8765 in its own), the image's user (uid 10001), the
replicas, the resource limits and nginx in front.

systemd (``Unit``), for ``Type=exec`` and ``KillMode=mixed`` (what the unit file says; any
other value fails loudly instead of being emulated wrongly):

* start: a clean environment (PATH, as the service manager gives, and PYTHONPATH if the
  test has one, so that the package under test is found) plus
  ``Environment=`` and the ``EnvironmentFile=`` contents, the process moved into the unit's
  own control group, then ``ExecStart`` exec'd; with ``Type=exec`` the start is done once
  the exec succeeded;
* stop: ``KillSignal`` to the main process only; once it exits, SIGKILL to every process
  still in the control group; if it has not exited after ``TimeoutStopSec``, SIGKILL to the
  whole group, main process included;
* restart: stop, then start with the same command and environment.

The control group is a real cgroup v2 directory where the test may create one (as root);
elsewhere the unit's processes are tracked as the main process's descendants, sampled while
it runs (a process that left the tree before a sample would be missed there, not in a
cgroup). Not emulated: the unit's sandboxing (``ProtectSystem=``, ``PrivateTmp=``, ``User=``,
...), ``Restart=on-failure`` and the start rate limit.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from deploy_support import dockerfile_stages, env_pairs
from server_process import alive, descendants, free_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
UNIT_FILE = DEPLOY / "docvouch.service"


# --- configuration read from the deployment files ------------------------------------------

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SYSTEMD_UNITS = {
    "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3,
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0}


def go_duration_s(text: str) -> float:
    """A Compose duration (Go syntax: ``30s``, ``1m30s``, ``1.5s``) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a Compose duration: {text!r}")
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


def systemd_timespan_s(text: str) -> float:
    """A systemd time span (``30``, ``30s``, ``1min 30s``) in seconds; a bare number is s."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text)
    if not parts or any(u not in _SYSTEMD_UNITS for _n, u in parts):
        raise ValueError(f"not a systemd time span: {text!r}")
    return sum(float(n) * _SYSTEMD_UNITS[u] for n, u in parts)


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?message}`` and ``$$``."""
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op") or "", match.group("arg") or ""
        value = variables.get(name)
        if op in (":-", "-"):
            return value if value or (op == "-" and value is not None) else arg
        if op in (":?", "?") and not (value or (op == "?" and value is not None)):
            raise ValueError(f"{name} must be set: {arg}")
        return value or ""

    return re.sub(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}", one, value)


def _exec_form(arguments: str) -> list[str]:
    value = yaml.safe_load(arguments)  # JSON arrays are YAML
    assert isinstance(value, list), f"not the exec form: {arguments}"
    return [str(v) for v in value]


def as_this_interpreter(argv: list[str]) -> list[str]:
    """``docvouch ...`` (the package's console script) as ``<this python> -m docvouch ...``."""
    assert Path(argv[0]).name == "docvouch", argv
    return [sys.executable, "-m", "docvouch", *argv[1:]]


@dataclass
class ComposeService:
    """One Compose service's process and stop settings, image defaults applied."""

    argv: list[str]
    env: dict[str, str]
    init: bool
    stop_signal: signal.Signals
    stop_grace_s: float
    grace_text: str


def compose_service(name: str, variables: dict[str, str]) -> ComposeService:
    """Service ``name`` of deploy/compose.yaml on the image deploy/Dockerfile builds."""
    service = yaml.safe_load(COMPOSE_FILE.read_text())["services"][name]
    image: dict[str, Any] = {"ENV": {}}
    for keyword, rest in dockerfile_stages()[-1]:
        if keyword == "ENV":
            image["ENV"].update(env_pairs(rest))
        elif keyword in ("ENTRYPOINT", "CMD"):
            image[keyword] = _exec_form(rest)
        elif keyword == "STOPSIGNAL":
            image[keyword] = rest
    entrypoint = service.get("entrypoint", image.get("ENTRYPOINT", []))
    command = service.get("command", image.get("CMD", []))
    env = {k: v for k, v in image["ENV"].items() if k != "PATH"}  # PATH: the image's venv
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    env.update({k: interpolate(str(v), variables) for k, v in environment.items()})
    stop_signal = service.get("stop_signal", image.get("STOPSIGNAL", "SIGTERM"))
    grace_text = str(service.get("stop_grace_period", "10s"))  # Docker's default: 10 s
    return ComposeService(argv=as_this_interpreter([*entrypoint, *command]), env=env,
                          init=bool(service.get("init", False)),
                          stop_signal=signal.Signals[stop_signal],
                          stop_grace_s=go_duration_s(grace_text), grace_text=grace_text)


def unit_file(path: Path = UNIT_FILE) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value assigned (a key may repeat), comments dropped."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@dataclass
class UnitService:
    """The [Service] settings of a unit that the emulation implements."""

    argv: list[str]
    env: dict[str, str]
    type: str
    kill_mode: str
    kill_signal: signal.Signals
    timeout_stop_s: float
    timeout_text: str


def unit_service(site_env: dict[str, str], path: Path = UNIT_FILE) -> UnitService:
    """deploy/docvouch.service's [Service]; ``site_env`` stands for its EnvironmentFile."""
    service = unit_file(path)["Service"]

    def last(key: str, default: str) -> str:
        return service.get(key, [default])[-1]

    env: dict[str, str] = {}
    for assignment in service.get("Environment", []):
        for token in shlex.split(assignment):
            key, _, value = token.partition("=")
            env[key] = value
    env.update(site_env)
    (exec_start,) = service["ExecStart"]
    timeout_text = last("TimeoutStopSec", "90s")  # systemd's DefaultTimeoutStopSec
    return UnitService(argv=as_this_interpreter(shlex.split(exec_start.lstrip("-@:+!"))),
                       env=env, type=last("Type", "simple"), kill_mode=last("KillMode",
                                                                           "control-group"),
                       kill_signal=signal.Signals[last("KillSignal", "SIGTERM")],
                       timeout_stop_s=systemd_timespan_s(timeout_text),
                       timeout_text=timeout_text)


# --- processes -----------------------------------------------------------------------------


def wait_ready(base: str, deadline_s: float, alive_check: Any = None) -> float:
    """Poll ``base``/readyz every 20 ms until 200; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if alive_check is not None and not alive_check():
            raise AssertionError(f"{base}: the service exited before it was ready")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"{base} not ready within {deadline_s} s")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (whichever of its threads started them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    found.append(int(entry.name))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()
    except OSError:
        return ""


def established_to(port: int) -> int:
    """Client sockets in ESTABLISHED state to 127.0.0.1:``port`` (all of this host's)."""
    target = f"0100007F:{port:04X}"
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2] == target and fields[3] == "01":
            count += 1
    return count


def _from_test_env() -> dict[str, str]:
    """What an emulated service takes from the test's environment: PATH, and PYTHONPATH if
    set (where this interpreter finds the package under test); nothing else."""
    return {k: os.environ[k] for k in ("PATH", "PYTHONPATH") if k in os.environ}


def _exit_code(returncode: int) -> int:
    """A Popen return code as a shell/Docker exit code (128 + signal when one ended it)."""
    return 128 - returncode if returncode < 0 else returncode


@dataclass
class StopResult:
    """How a stop went: the exit code, how long it took, whether SIGKILL was needed."""

    exit_code: int
    seconds: float
    killed: bool
    leftovers: dict[int, str] = field(default_factory=dict)  # pid -> command line


class Container:
    """One container of a Compose service: ``docker compose up`` ... ``docker compose stop``."""

    def __init__(self, service: ComposeService, *, init: bool, tini: str | None, home: Path,
                 port: int, log_path: Path, env: dict[str, str]) -> None:
        self.service = service
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        # The container's /tmp. A short path: the workers' forkserver puts a Unix socket in
        # it, and a socket path is limited to 107 bytes (pytest's tmp_path can be longer).
        self.scratch = scratch = Path(tempfile.mkdtemp(prefix="dv-ctr-"))
        environment = {**_from_test_env(), "LANG": "C.UTF-8", **service.env,
                       "DOCVOUCH_HOME": str(home), "DOCVOUCH_HOST": "127.0.0.1",
                       "DOCVOUCH_PORT": str(port), "TMPDIR": str(scratch), **env}
        if environment.get("DOCVOUCH_HEALTH_PORT", "0") != "0":  # the image's 8766 may be taken
            environment["DOCVOUCH_HEALTH_PORT"] = str(free_port())
        # In the container's mount namespace: / read-only, a tmpfs for /tmp (here a scratch
        # folder, TMPDIR), then exec: sh's PID 1 becomes tini's (or the service's).
        script = ('mount -t tmpfs -o size=64m,mode=1777 tmpfs "$1" && '
                  'mount -o remount,bind,ro / && shift && exec "$@"')
        init_argv = [tini, "--"] if init else []
        assert not init or tini, "init: true needs tini"
        self._log = log_path.open("wb")
        self.unshare = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "--",
             "sh", "-c", script, "sh", str(scratch), *init_argv, *service.argv],
            env=environment, cwd=scratch, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid1 = self._find_pid1()
        self.seen: dict[int, str] = {}

    def _find_pid1(self) -> int:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            found = children(self.unshare.pid)
            if found:
                return found[0]
            assert self.unshare.poll() is None, self.tail()
            time.sleep(0.01)
        raise AssertionError("unshare started no child")

    def namespace(self) -> str:
        return os.readlink(f"/proc/{self.pid1}/ns/pid")

    def processes(self) -> dict[int, str]:
        """Every live process of the container (host PIDs), remembered in ``seen``."""
        found = {pid: cmdline(pid) for pid in {self.pid1, *descendants(self.pid1)}
                 if alive(pid)}
        self.seen.update(found)
        return found

    def service_pid(self) -> int:
        """The service's main process: PID 1's child under tini, else PID 1 itself."""
        if not self.service_is_pid1():
            (child,) = children(self.pid1)
            return child
        return self.pid1

    def service_is_pid1(self) -> bool:
        return "tini" not in cmdline(self.pid1).split(" ")[0]

    def stop(self, after_signal: Callable[[], object] | None = None) -> StopResult:
        """``docker compose stop``: stop_signal to PID 1, up to stop_grace_period, SIGKILL.
        ``after_signal`` is called once the signal is sent (the test's, not Docker's)."""
        started = time.monotonic()
        os.kill(self.pid1, self.service.stop_signal)
        if after_signal is not None:
            after_signal()
        killed = False
        while self.unshare.poll() is None:
            if time.monotonic() - started > self.service.stop_grace_s:
                os.kill(self.pid1, signal.SIGKILL)
                killed = True
                self.unshare.wait(timeout=30)
                break
            with contextlib.suppress(OSError):
                self.processes()
            time.sleep(0.02)
        seconds = time.monotonic() - started
        # unshare exits with its child's status (and cannot report a SIGKILL): as Docker
        # reports it, 137 after a SIGKILL.
        code = 137 if killed else _exit_code(self.unshare.returncode)
        return StopResult(exit_code=code, seconds=seconds, killed=killed)

    def tail(self, chars: int = 3000) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def close(self) -> None:
        if self.unshare.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid1, signal.SIGKILL)  # the kernel empties the namespace
            self.unshare.wait(timeout=30)
        self._log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def namespace_members(namespace: str) -> list[int]:
    """Host PIDs of every process still in PID namespace ``namespace``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(entry / "ns" / "pid") == namespace and alive(int(entry.name)):
                    found.append(int(entry.name))
    return found


class ControlGroup:
    """The unit's control group: a cgroup v2 directory, or sampled descendants without one."""

    def __init__(self, name: str) -> None:
        self.path = self._create(name)
        self.tracked: dict[int, str] = {}  # without a cgroup: every process seen so far

    @staticmethod
    def _create(name: str) -> Path | None:
        if os.geteuid() != 0:
            return None
        roots = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                 if line.split()[2] == "cgroup2"]
        own = [line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines()
               if line.startswith("0::")]
        if not roots or not own:
            return None
        path = Path(roots[0]) / own[0].lstrip("/") / name
        try:
            path.mkdir()
            # moving a process in must work here (it can be refused, e.g. delegation rules)
            probe = subprocess.Popen(["sleep", "5"])
            try:
                (path / "cgroup.procs").write_text(str(probe.pid))
            finally:
                probe.kill()
                probe.wait()
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return path

    @property
    def kind(self) -> str:
        return "cgroup v2" if self.path is not None else "process tree (no cgroup v2 here)"

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside the group (a shell joins it, then execs ``argv``)."""
        if self.path is None:
            return argv
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"),
                *argv]

    def members(self, main: int | None = None) -> dict[int, str]:
        if self.path is not None:
            pids = {int(p) for p in (self.path / "cgroup.procs").read_text().split()}
        else:
            if main is not None and alive(main):
                for pid in (main, *descendants(main)):
                    self.tracked[pid] = cmdline(pid)
            pids = set(self.tracked)
        return {pid: self.tracked.get(pid) or cmdline(pid) for pid in pids if alive(pid)}

    def kill_all(self, main: int | None = None) -> dict[int, str]:
        """SIGKILL every member (until none is left); what was there."""
        found = self.members(main)
        end = time.monotonic() + 10
        while (left := self.members(main)) and time.monotonic() < end:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        assert not self.members(main), "processes survived SIGKILL"
        self.tracked.clear()
        return found

    def remove(self) -> None:
        if self.path is not None:
            self.kill_all()
            with contextlib.suppress(OSError):
                self.path.rmdir()


class Unit:
    """A started systemd service of ``Type=exec``, ``KillMode=mixed``."""

    def __init__(self, service: UnitService, *, home: Path, port: int, workdir: Path,
                 log_path: Path, group: ControlGroup) -> None:
        assert service.type == "exec", f"only Type=exec is emulated, not {service.type}"
        assert service.kill_mode == "mixed", \
            f"only KillMode=mixed is emulated, not {service.kill_mode}"
        self.service = service
        self.group = group
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.env = {**_from_test_env(), **service.env,
                    "DOCVOUCH_HOME": str(home), "DOCVOUCH_PORT": str(port)}
        self._log = log_path.open("ab")
        self.main: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """ExecStart in the unit's group; with Type=exec, started once the exec succeeded."""
        assert not self.group.members(), "the control group is not empty"
        self.main = subprocess.Popen(
            self.group.wrap(self.service.argv), env=self.env, cwd=self.workdir,
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.main is not None
        return self.main.pid

    def members(self) -> dict[int, str]:
        return self.group.members(self.pid)

    def stop(self) -> StopResult:
        """KillMode=mixed: KillSignal to the main process; SIGKILL for what remains."""
        assert self.main is not None
        started = time.monotonic()
        self.members()  # (process-tree tracking: a last sample before the signal)
        self.main.send_signal(self.service.kill_signal)
        killed = False
        while self.main.poll() is None:
            if time.monotonic() - started > self.service.timeout_stop_s:
                self.group.kill_all(self.pid)  # the whole group, main process included
                killed = True
                self.main.wait(timeout=30)
                break
            self.members()
            time.sleep(0.02)
        seconds = time.monotonic() - started
        leftovers = {} if killed else self.group.kill_all(self.pid)
        return StopResult(exit_code=_exit_code(self.main.returncode), seconds=seconds,
                          killed=killed, leftovers=leftovers)

    def restart(self) -> StopResult:
        """``systemctl restart``: stop (as above), then start the same command again."""
        result = self.stop()
        self.start()
        return result

    def tail(self, chars: int = 3000) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def close(self) -> None:
        """``systemctl stop`` (the same sequence as in a restart), then the group removed."""
        if self.main is not None and self.main.poll() is None:
            self.stop()
        self.group.remove()
        self._log.close()


__all__ = ["ComposeService", "Container", "ControlGroup", "StopResult", "Unit", "UnitService",
           "compose_service", "established_to", "free_port", "namespace_members",
           "unit_service", "wait_ready"]
