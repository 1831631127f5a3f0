"""The mypyc-compiled engine (accel.py): used when fresh, never when stale, same verdicts."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import docvouch
from docvouch import accel

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _toolchain_problem() -> str | None:
    try:
        accel._require_toolchain()
    except accel.AccelError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def compiled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build of the current sources: the project's own when fresh, else one made here."""
    if accel.check_build(accel.accel_dir()).active:
        return accel.accel_dir()
    problem = _toolchain_problem()
    if problem is not None:
        if os.environ.get("CI"):  # CI installs the toolchain: its absence is a broken step
            pytest.fail(f"cannot compile the engine in CI: {problem}")
        pytest.skip(f"cannot compile the engine here: {problem}")
    directory = tmp_path_factory.mktemp("accel") / "build"
    env = {**os.environ, accel.ENV_DIR: str(directory)}
    subprocess.run([sys.executable, "-m", "docvouch", "accel", "build"], env=env, check=True,
                   capture_output=True, timeout=900)
    return directory


def test_ci_runs_the_suite_on_the_compiled_engine() -> None:
    """`make test` builds it before pytest: the suite then exercises the compiled modules."""
    from docvouch import matching

    state = accel.state()
    where = Path(matching.__file__).parent
    if state.active:
        assert where == accel.accel_dir() / "docvouch"
        assert matching.__file__.endswith(".so")
    else:
        assert not os.environ.get("CI"), f"CI must run compiled: {state.reason}"
        assert where == Path(docvouch.__file__).parent
        assert matching.__file__.endswith(".py")


def _write_build(directory: Path, sources: dict[str, str]) -> None:
    (directory / "docvouch").mkdir(parents=True)
    suffix = accel.sysconfig.get_config_var("EXT_SUFFIX")
    for name in accel.COMPILED_MODULES:
        (directory / "docvouch" / f"{name}{suffix}").write_bytes(b"")
    (directory / f"{accel.GROUP}__mypyc{suffix}").write_bytes(b"")
    (directory / accel.MANIFEST).write_text(json.dumps({
        "format": accel.FORMAT, "interpreter": accel.interpreter_tag(), "mypyc": "x",
        "modules": list(accel.COMPILED_MODULES), "sources": sources,
        "libraries": accel.library_versions()}))


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of the engine's sources, to edit."""
    copy = tmp_path / "pkg"
    copy.mkdir()
    for name in accel.COMPILED_MODULES + accel.TYPED_FROM:
        shutil.copy2(accel.PACKAGE_DIR / f"{name}.py", copy / f"{name}.py")
    return copy


def test_a_build_counts_only_while_every_source_matches_it(tmp_path: Path,
                                                           package: Path) -> None:
    build = tmp_path / "build"
    _write_build(build, accel.source_hashes(package))
    assert accel.check_build(build, package).active

    with (package / "matching.py").open("a") as f:
        f.write("\n# edited\n")
    state = accel.check_build(build, package)
    assert not state.active
    assert "stale: matching.py changed" in state.reason


def test_a_change_in_what_the_compile_read_types_from_makes_it_stale(
        tmp_path: Path, package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = tmp_path / "build"
    _write_build(build, accel.source_hashes(package))
    (package / "passages.py").write_text("# the records changed\n", encoding="utf-8")
    assert "stale: passages.py changed" in accel.check_build(build, package).reason

    _write_build(tmp_path / "other", accel.source_hashes(package))
    monkeypatch.setattr(accel, "library_versions",
                        lambda: {**dict.fromkeys(accel.TYPED_LIBRARIES, "1"), "numpy": "0.1"})
    assert "a library it was compiled against" in accel.check_build(tmp_path / "other",
                                                                    package).reason


def test_the_typed_from_list_is_every_docvouch_module_the_compiled_ones_import() -> None:
    imported = set()
    for name in accel.COMPILED_MODULES:
        tree = ast.parse((accel.PACKAGE_DIR / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "docvouch":
                    imported |= {alias.name for alias in node.names}
                elif node.module.startswith("docvouch."):
                    imported.add(node.module.split(".")[1])
    assert imported - set(accel.COMPILED_MODULES) == set(accel.TYPED_FROM)


def test_a_build_for_another_interpreter_or_half_copied_is_not_used(tmp_path: Path,
                                                                    package: Path) -> None:
    build = tmp_path / "build"
    _write_build(build, accel.source_hashes(package))
    manifest = json.loads((build / accel.MANIFEST).read_text())
    (build / accel.MANIFEST).write_text(json.dumps({**manifest, "modules": ["engine"]}))
    assert "another DocVouch version" in accel.check_build(build, package).reason
    (build / accel.MANIFEST).write_text(json.dumps({**manifest, "sources": "x"}))
    assert "another DocVouch version" in accel.check_build(build, package).reason
    (build / accel.MANIFEST).write_text(json.dumps({**manifest, "interpreter": "other"}))
    assert "another Python interpreter" in accel.check_build(build, package).reason

    (build / accel.MANIFEST).write_text(json.dumps(manifest))
    next((build / "docvouch").iterdir()).unlink()
    assert "incomplete" in accel.check_build(build, package).reason

    (build / accel.MANIFEST).write_text("{not json")
    assert "unreadable" in accel.check_build(build, package).reason
    assert "not built" in accel.check_build(tmp_path / "nothing", package).reason


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)


def test_the_switch_and_the_cli_say_how_the_engine_runs(compiled_dir: Path) -> None:
    probe = "from docvouch import accel, matching; print(accel.state().label, matching.__file__)"
    on = _run(probe, **{accel.ENV_DIR: str(compiled_dir), accel.ENV_SWITCH: "1"})
    assert on.stdout.startswith("compiled ") and on.stdout.strip().endswith(".so"), on.stderr
    off = _run(probe, **{accel.ENV_DIR: str(compiled_dir), accel.ENV_SWITCH: "0"})
    assert off.stdout.startswith("python ") and off.stdout.strip().endswith(".py")

    status = subprocess.run([sys.executable, "-m", "docvouch", "accel", "status"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, accel.ENV_DIR: str(compiled_dir),
                                 accel.ENV_SWITCH: "0"})
    assert status.returncode == 1
    assert "engine: python (off (DOCVOUCH_ACCEL=0))" in status.stdout
    assert f"build: fresh in {compiled_dir}" in status.stdout
    version = subprocess.run([sys.executable, "-m", "docvouch", "--version"],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, accel.ENV_DIR: str(compiled_dir),
                                  accel.ENV_SWITCH: "1"})
    assert "(engine: compiled)" in version.stdout


# Every answer the project keeps: the labelled set, the false-alarm sets and the benchmark's.
_VERIFY_ALL = """
import sys, orjson
from pathlib import Path
from docvouch import accel
from docvouch.engine import Engine
engine = Engine.open(Path(sys.argv[1]), verify_checksums=False)
out = {"engine": accel.state().label}
paths = [p for pattern in ("answers/*.md", "labelled/answers/*.md", "correct_answers*/*.md")
         for p in sorted(Path(sys.argv[2]).glob(pattern)) if p.name != "README.md"]
for path in paths:
    result = engine.verify(path.read_text(encoding="utf-8"))
    result.pop("took_ms")
    out[str(path.relative_to(sys.argv[2]))] = result
sys.stdout.buffer.write(orjson.dumps(out))
"""


def test_compiled_and_python_engines_give_the_same_results(compiled_dir: Path,
                                                           default_index_dir: Path) -> None:
    """Every field of every result, over every answer the project keeps (mypyc changes
    how the code runs, never what it says)."""
    runs = {}
    for switch in ("1", "0"):
        done = _run(_VERIFY_ALL.replace("sys.argv[1]", repr(str(default_index_dir)))
                    .replace("sys.argv[2]", repr(str(BENCH))),
                    **{accel.ENV_DIR: str(compiled_dir), accel.ENV_SWITCH: switch})
        assert done.returncode == 0, done.stderr[-2000:]
        runs[switch] = json.loads(done.stdout)
    compiled, python = runs["1"], runs["0"]
    assert (compiled.pop("engine"), python.pop("engine")) == ("compiled", "python")
    assert len(compiled) > 250  # the answers were found (261 when written)
    differing = [name for name in python if compiled[name] != python[name]]
    assert not differing, f"{len(differing)} answers differ, first {differing[:3]}"


def test_a_stale_build_is_not_imported(tmp_path: Path) -> None:
    build = tmp_path / "build"
    _write_build(build, {**accel.source_hashes(), "claims": "0" * 64})
    probe = "from docvouch import accel, claims; print(accel.state().reason, claims.__file__)"
    done = _run(probe, **{accel.ENV_DIR: str(build), accel.ENV_SWITCH: "1"})
    assert done.stdout.startswith("stale: claims.py changed"), done.stderr
    assert done.stdout.strip().endswith("claims.py")


def test_a_directory_that_is_not_a_build_is_never_replaced(tmp_path: Path) -> None:
    precious = tmp_path / "data"
    (precious / "indexes").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "docvouch", "accel", "build"],
                          env={**os.environ, accel.ENV_DIR: str(precious)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "holds files that are not a DocVouch build" in done.stderr
    assert (precious / "indexes").is_dir()


def test_a_missing_compiler_is_named_and_if_possible_carries_on(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), accel.ENV_DIR: str(tmp_path / "build"),
           "CC": "no-such-cc"}
    strict = subprocess.run([sys.executable, "-m", "docvouch", "accel", "build"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert strict.returncode == 2
    assert "accel build failed: no C compiler (no-such-cc)" in strict.stderr
    assert "apt-get install build-essential" in strict.stderr
    lenient = subprocess.run([sys.executable, "-m", "docvouch", "accel", "build",
                              "--if-possible"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert lenient.returncode == 0
    assert "the engine runs as Python: no C compiler" in lenient.stderr
    assert not (tmp_path / "build").exists()
