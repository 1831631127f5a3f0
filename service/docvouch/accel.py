"""The engine's hot modules compiled to C with mypyc, used only while they match the source.

The same Python files run either way. Compiled, a typical answer takes about a tenth less
CPU time (bench/accel_speed.py; the service's rows on both engines are in
bench/RESULTS.md). Compilation needs mypy (the ``accel`` extra), a C compiler and the
Python headers, so it is a step of its own (``docvouch accel build``, run by ``make``), and
everything works without it.

The build lands in ``_accel/`` beside the package, with a manifest of the sources' SHA-256.
``activate()`` (called by the package's ``__init__``, before any engine module is imported)
puts it in front of the package's own directory only when every source still has the
hash it was compiled from and the interpreter is the one it was built for: an edited
source therefore runs as Python until the next build, never as stale C.
"""

from __future__ import annotations

# Imported by every process that imports docvouch: only what the freshness check needs is
# imported here (the build's tools load inside build()).
import hashlib
import os
import re
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import orjson

# The per-answer path: claims → terms → retrieval → symbol checks → judging.
COMPILED_MODULES = ("tokenizer", "code_refs", "claims", "symbols", "index", "matching",
                    "engine")
# What else the compile read types from: docvouch modules those import (a test keeps this
# equal to their imports) and the typed libraries they call. A change in any of them may
# change the types mypyc checks at run time, so it makes a build stale too.
TYPED_FROM = ("passages", "errors")
TYPED_LIBRARIES = ("numpy", "rapidfuzz", "markdown-it-py", "orjson")
GROUP = "docvouch_accel"  # mypyc's shared library becomes the top-level module GROUP__mypyc
PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST = "manifest.json"
ENV_SWITCH = "DOCVOUCH_ACCEL"  # "0" runs the pure Python modules even when a build is fresh
ENV_DIR = "DOCVOUCH_ACCEL_DIR"  # where builds live, for an installed package on a read-only path
FORMAT = 2


class AccelError(Exception):
    """The modules could not be compiled; the message says what is missing."""


class AccelState:
    """Whether the compiled modules are in use, and why (or why not)."""

    __slots__ = ("active", "reason")

    def __init__(self, active: bool, reason: str) -> None:
        self.active, self.reason = active, reason

    def __repr__(self) -> str:
        return f"AccelState(active={self.active}, reason={self.reason!r})"

    @property
    def label(self) -> str:
        return "compiled" if self.active else "python"


_state: AccelState | None = None


def accel_dir() -> Path:
    return Path(os.environ.get(ENV_DIR) or PACKAGE_DIR / "_accel").resolve()


def source_hashes(package_dir: Path = PACKAGE_DIR) -> dict[str, str]:
    return {name: hashlib.sha256((package_dir / f"{name}.py").read_bytes()).hexdigest()
            for name in COMPILED_MODULES + TYPED_FROM}


def library_versions() -> dict[str, str | None]:
    """TYPED_LIBRARIES' installed versions, read from the first ``*.dist-info`` folder of
    each on sys.path (as importlib.metadata finds them, without its ~50 ms of imports)."""
    wanted = {_canonical(name): name for name in TYPED_LIBRARIES}
    found: dict[str, str | None] = dict.fromkeys(TYPED_LIBRARIES)
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if not folder.endswith(".dist-info") or "-" not in folder:
                continue
            project, version = folder[:-len(".dist-info")].split("-", 1)
            name = wanted.get(_canonical(project))
            if name is not None and found[name] is None:
                found[name] = version
    return found


def _canonical(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


def interpreter_tag() -> str:
    """What a compiled module is bound to: the implementation, version and ABI."""
    return f"{sys.implementation.cache_tag}-{sysconfig.get_config_var('SOABI')}-{sys.version}"


def check_build(directory: Path, package_dir: Path = PACKAGE_DIR) -> AccelState:
    """Whether the build in ``directory`` may replace the sources in ``package_dir``."""
    try:
        manifest = orjson.loads((directory / MANIFEST).read_bytes())
    except FileNotFoundError:
        return AccelState(False, "not built (`docvouch accel build` compiles the engine)")
    except (OSError, orjson.JSONDecodeError) as exc:
        return AccelState(False, f"unreadable build manifest ({exc}); rebuild it")
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
            or manifest.get("modules") != list(COMPILED_MODULES)
            or not isinstance(manifest.get("sources"), dict)):
        return AccelState(False, "build from another DocVouch version; rebuild it")
    if manifest.get("interpreter") != interpreter_tag():
        return AccelState(False, "built for another Python interpreter; rebuild it")
    try:
        current = source_hashes(package_dir)
    except OSError as exc:
        return AccelState(False, f"cannot read the engine's sources ({exc})")
    changed = sorted(n for n, digest in current.items() if manifest["sources"].get(n) != digest)
    if changed:
        names = ", ".join(f"{n}.py" for n in changed)
        return AccelState(False, f"stale: {names} changed since the build; rebuild it")
    if manifest.get("libraries") != library_versions():
        return AccelState(False, "stale: a library it was compiled against "
                                 f"({', '.join(TYPED_LIBRARIES)}) changed version; rebuild it")
    missing = [n for n in COMPILED_MODULES if not _extension(directory / "docvouch", n)]
    if missing or not _extension(directory, f"{GROUP}__mypyc"):
        return AccelState(False, "build incomplete (compiled files missing); rebuild it")
    return AccelState(True, f"mypyc {manifest.get('mypyc', '?')} build of the current sources")


def _extension(directory: Path, name: str) -> Path | None:
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    path = directory / f"{name}{suffix}"
    return path if path.is_file() else None


def activate(package_path: list[str]) -> AccelState:
    """Put a fresh build ahead of ``package_path`` (the package's ``__path__``); once."""
    global _state
    if _state is not None:
        return _state
    if os.environ.get(ENV_SWITCH, "").strip().lower() in ("0", "false", "no", "off"):
        _state = AccelState(False, f"off ({ENV_SWITCH}=0)")
        return _state
    directory = accel_dir()
    state = check_build(directory)
    if state.active:
        if str(directory) not in sys.path:
            sys.path.append(str(directory))  # the shared library is a top-level module
        package_path.insert(0, str(directory / "docvouch"))
    _state = state
    return state


def state() -> AccelState:
    """How the engine runs in this process (activate() has run with the package)."""
    return _state if _state is not None else AccelState(False, "not activated")


def build(*, force: bool = False, progress: Callable[[str], None] = print) -> AccelState:
    """Compile COMPILED_MODULES into accel_dir(); a no-op while the build there is fresh.
    One build at a time per directory (a lock beside it); AccelError says what failed."""
    target = accel_dir()
    if target.exists() and not (target / MANIFEST).exists() and any(target.iterdir()):
        raise AccelError(f"{target} holds files that are not a DocVouch build; set "
                         f"{ENV_DIR} to a new or empty directory (it is replaced whole)")
    import fcntl

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.with_name(f"{target.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent build finishes first
            current = check_build(target)
            if not force and current.active:
                progress(f"compiled engine is up to date in {target}")
                return current
            _require_toolchain()
            _compile(target, progress)
    except OSError as exc:
        raise AccelError(f"cannot write the build: {exc}") from exc
    checked = check_build(target)
    if not checked.active:
        raise AccelError(f"the new build is not usable: {checked.reason}")
    progress(f"compiled engine ready in {target}")
    return checked


def _compile(target: Path, progress: Callable[[str], None]) -> None:
    import shutil
    import subprocess
    import tempfile

    import mypy.version

    hashes, libraries = source_hashes(), library_versions()
    with tempfile.TemporaryDirectory(prefix="docvouch-accel-") as tmp:
        work = Path(tmp)
        progress(f"compiling {len(COMPILED_MODULES)} engine modules with mypyc "
                 f"(about a minute per core)")
        # A copy of the package's Python files: mypy treats every module beside the package
        # as the project's own, which in site-packages means every installed library
        source = work / "src"
        shutil.copytree(PACKAGE_DIR, source / "docvouch", ignore=_python_files_only)
        (work / "mypy.ini").write_text("[mypy]\n")  # not the user's own mypy settings
        env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "MYPY_CONFIG")}
        result = subprocess.run(
            [sys.executable, "-c", _BUILD_SCRIPT, str(work)], cwd=source,
            env={**env, "MYPY_CACHE_DIR": str(work / "mypy-cache"), ENV_SWITCH: "0"},
            capture_output=True, text=True)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise AccelError(f"mypyc failed (exit {result.returncode}):\n{tail}")
        if source_hashes() != hashes or source_hashes(source / "docvouch") != hashes:
            raise AccelError("the engine's sources changed during the build; run it again")
        lib = work / "lib"
        built = [_extension(lib / "docvouch", name) for name in COMPILED_MODULES]
        shared = _extension(lib, f"{GROUP}__mypyc")
        if shared is None or None in built:
            raise AccelError("mypyc did not produce every compiled module")
        # Staged beside the target (the same file system, so the swap is two renames), the
        # manifest last: a half-written staging copy never passes check_build.
        incoming = target.with_name(f"{target.name}.new-{os.getpid()}")
        shutil.rmtree(incoming, ignore_errors=True)
        (incoming / "docvouch").mkdir(parents=True)
        for path in built:
            shutil.copy2(path, incoming / "docvouch" / path.name)
        shutil.copy2(shared, incoming / shared.name)
        (incoming / MANIFEST).write_bytes(orjson.dumps({
            "format": FORMAT, "interpreter": interpreter_tag(),
            "mypyc": mypy.version.__version__, "modules": list(COMPILED_MODULES),
            "sources": hashes, "libraries": libraries}, option=orjson.OPT_INDENT_2) + b"\n")
        _swap(incoming, target)


def _python_files_only(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if not n.endswith(".py")
            and not (Path(directory, n).is_dir() and n.isidentifier() and n != "__pycache__"
                     and not n.startswith("_accel"))}


def _swap(incoming: Path, target: Path) -> None:
    """Put the new build in whole: a process starting meanwhile sees the old build, the new
    one, or (between the two renames) none and runs as Python."""
    import shutil

    retired = target.with_name(f"{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(retired)
    incoming.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def c_compiler() -> str:
    """The compiler command the build runs: $CC, else the one this Python was built with."""
    return (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]


def python_headers() -> Path:
    """Where the build looks for this interpreter's ``Python.h``."""
    return Path(sysconfig.get_paths()["include"]) / "Python.h"


def _require_toolchain() -> None:
    import shutil

    try:
        import mypyc  # noqa: F401
    except ImportError:
        raise AccelError("mypy (which brings mypyc) is not installed: "
                         "pip install 'docvouch[accel]'") from None
    try:
        import setuptools  # noqa: F401
    except ImportError:
        raise AccelError("setuptools is not installed: pip install 'docvouch[accel]'") from None
    compiler = c_compiler()
    if shutil.which(compiler) is None:
        raise AccelError(f"no C compiler ({compiler}): on Debian or Ubuntu, "
                         "apt-get install build-essential")
    headers = python_headers()
    if not headers.is_file():
        raise AccelError(f"no Python headers ({headers}): on Debian or Ubuntu, "
                         "apt-get install python3-dev")


# Run in a child process: setuptools keeps global state and prints freely. mypy reads the
# package from the working directory (the copy's parent), so it checks the modules against
# their real neighbours; all output lands in the temporary directory.
_BUILD_SCRIPT = f"""
import sys
from pathlib import Path
from setuptools import setup
from mypyc.build import mypycify
work = Path(sys.argv[1])
modules = [f"docvouch/{{name}}.py" for name in {COMPILED_MODULES!r}]
options = ["--config-file", str(work / "mypy.ini"), "--ignore-missing-imports",
           "--follow-imports=silent"]
setup(name="docvouch-accel", script_args=[
          "-q", "build_ext", "--build-lib", str(work / "lib"),
          "--build-temp", str(work / "temp")],
      ext_modules=mypycify(modules + options,
                           opt_level="3", group_name={GROUP!r},
                           target_dir=str(work / "c")))
"""
