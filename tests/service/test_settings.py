"""The settings table: sources and precedence, bounds, and the places that list it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from docvouch.cli import build_parser
from docvouch.settings import (
    SettingsError,
    describe,
    env_name,
    load_settings,
    markdown_table,
    setting_fields,
)

REPO = Path(__file__).resolve().parents[2]


def test_defaults_are_the_documented_limits() -> None:
    settings = load_settings(env={})
    assert (settings.host, settings.port) == ("127.0.0.1", 8765)
    assert settings.workers == (os.cpu_count() or 1)
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.max_answer_chars == 100_000
    assert (settings.max_claims, settings.max_claim_chars, settings.top_k) == (200, 1000, 10)
    assert settings.request_deadline_s == 10 and settings.shutdown_timeout_s == 15
    assert settings.log_answers is False and settings.cors_origins == ()
    assert not settings.keys_required


def test_precedence_is_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    config = tmp_path / "docvouch.toml"
    config.write_text('port = 9001\nqueue_max = 7\ncors_origins = ["https://a.example"]\n'
                      "workers = 3\n")
    env = {"DOCVOUCH_PORT": "9002", "DOCVOUCH_WORKERS": "4"}
    settings = load_settings(config=config, env=env, overrides={"workers": 5, "port": None})
    assert settings.port == 9002  # env beats the file; a None flag changes nothing
    assert settings.workers == 5  # the flag beats env
    assert settings.queue_max == 7  # from the file
    assert settings.cors_origins == ("https://a.example",)


def test_a_serve_table_in_the_file_is_read_too(tmp_path: Path) -> None:
    config = tmp_path / "docvouch.toml"
    config.write_text("[serve]\nport = 9100\nlog_answers = true\n")
    settings = load_settings(env={"DOCVOUCH_CONFIG": str(config)})
    assert settings.port == 9100 and settings.log_answers is True


def test_top_level_settings_and_a_serve_table_are_both_read(tmp_path: Path) -> None:
    config = tmp_path / "docvouch.toml"
    config.write_text("workers = 1\nqueue_max = 7\n\n[serve]\nport = 8999\n\n"
                      "[check]\ntop_k = 3\n")  # another command's table is left to it
    settings = load_settings(env={"DOCVOUCH_CONFIG": str(config)})
    assert (settings.workers, settings.queue_max, settings.port) == (1, 7, 8999)


@pytest.mark.parametrize(("text", "message"), [
    ("port = 9000\n[serve]\nport = 9100\n", "port set both"),
    ("serve = 3\n", "must be a table"),
    ("[serve]\nprot = 1\n", "unknown setting.*prot"),
])
def test_a_file_that_says_two_things_is_refused(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "docvouch.toml"
    config.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings(env={"DOCVOUCH_CONFIG": str(config)})


@pytest.mark.parametrize(("env", "message"), [
    ({"DOCVOUCH_PORT": "eighty"}, "not a valid int"),
    ({"DOCVOUCH_PORT": "70000"}, "outside"),
    ({"DOCVOUCH_WORKERS": "0"}, "outside"),
    ({"DOCVOUCH_MAX_BODY_BYTES": "10"}, "outside"),
    ({"DOCVOUCH_LOG_ANSWERS": "perhaps"}, "not a valid bool"),
    ({"DOCVOUCH_LOG_FORMAT": "xml"}, "not one of"),
    ({"DOCVOUCH_HOST": "0.0.0.0"}, "api_keys"),
])
def test_bad_values_are_refused_with_the_setting_named(env: dict[str, str],
                                                       message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env=env)


def test_unknown_file_keys_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "docvouch.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings(config=config, env={})
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(config=tmp_path / "missing.toml", env={})


def test_units_are_in_the_names() -> None:
    for spec in setting_fields():
        if spec.type in ("int", "float") and any(w in spec.name for w in ("timeout", "deadline")):
            assert spec.name.endswith("_s"), spec.name
        if "bytes" in spec.metadata["help"].lower() and spec.type == "int":
            assert spec.name.endswith("_bytes"), spec.name


def serve_help() -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices["serve"].format_help()


def test_serve_help_lists_every_setting_with_env_var_and_default() -> None:
    text = serve_help()
    for name, env, default, _help in describe():
        line = next((ln for ln in text.splitlines() if ln.split()[:1] == [name]), None)
        assert line is not None, name
        assert env in line and f"default: {default}" in line
    for flag in ("--host", "--port", "--workers", "--home", "--config"):
        assert flag in text


def test_docs_settings_table_is_generated_from_the_table() -> None:
    doc = (REPO / "docs" / "SERVICE.md").read_text()
    found = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", doc, re.S)
    assert found, "docs/SERVICE.md lacks the settings markers"
    assert found.group(1).strip() == markdown_table(), (
        "docs/SERVICE.md is stale; paste the output of "
        "`python -c 'from docvouch.settings import markdown_table; print(markdown_table())'`")


def test_every_setting_has_an_env_var_and_help() -> None:
    for spec in setting_fields():
        assert env_name(spec.name) == "DOCVOUCH_" + spec.name.upper()
        assert len(spec.metadata["help"]) > 20


def test_python_m_docvouch_serve_help_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "docvouch", "serve", "--help"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "DOCVOUCH_MAX_BODY_BYTES" in out.stdout


def test_generate_key_prints_a_key_and_its_digest() -> None:
    out = subprocess.run([sys.executable, "-m", "docvouch", "serve", "--generate-key"],
                         capture_output=True, text=True, timeout=60, check=False)
    key = re.search(r"key:\s+(\S+)", out.stdout).group(1)
    digest = re.search(r"sha256:\s+([0-9a-f]{64})", out.stdout).group(1)
    assert load_settings(env={"DOCVOUCH_API_KEYS": digest}).api_keys == (digest,)
    from docvouch.auth import hash_key

    assert hash_key(key) == digest
