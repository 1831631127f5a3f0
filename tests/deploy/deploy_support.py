"""Helpers shared by the deployment tests (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
API_KEY = "dv_deploy-tests-key"


def load_module(name: str, path: Path) -> ModuleType:
    """A module from a file outside the packages (deploy/ is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def need(available: object, what: str) -> None:
    """Skip without ``what`` locally; fail in CI, where scripts/install-test-deps provides it."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI: scripts/install-test-deps should install it")
    pytest.skip(f"{what} is not installed")


def dockerfile_instructions(path: Path = DEPLOY / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def dockerfile_stages(path: Path = DEPLOY / "Dockerfile") -> list[list[tuple[str, str]]]:
    """The instructions of each stage (a stage starts at FROM); ARGs before it are dropped."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def env_pairs(arguments: str) -> dict[str, str]:
    """``ENV A=1 B="x y"`` as a dict (the key=value form only)."""
    import shlex

    pairs = {}
    for token in shlex.split(arguments):
        key, sep, value = token.partition("=")
        assert sep, f"ENV uses the key=value form: {token!r}"
        pairs[key] = value
    return pairs


def setting_variables() -> set[str]:
    """Every DOCVOUCH_* variable the service reads (the settings table), plus DOCVOUCH_CONFIG
    and the compiled engine's two (accel.py)."""
    from docvouch.accel import ENV_DIR, ENV_SWITCH
    from docvouch.settings import CONFIG_ENV, describe

    return {env for _name, env, _default, _help in describe()} | {CONFIG_ENV, ENV_DIR,
                                                                   ENV_SWITCH}
