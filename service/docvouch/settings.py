"""The settings table: every limit and switch of the HTTP service, with its default and help.

One frozen :class:`Settings` object is built at start-up and handed to ``create_app``.
Sources, each overriding the one before::

    defaults (this table) ← TOML file (--config / DOCVOUCH_CONFIG) ← DOCVOUCH_* variables ← flags

Every field's metadata carries its help line and bounds; ``docvouch serve --help`` and
``docs/SERVICE.md`` are generated from it, so the table is the single source of truth.
No I/O happens at import time; ``load_settings`` reads the file it is given.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

ENV_PREFIX = "DOCVOUCH_"
CONFIG_ENV = "DOCVOUCH_CONFIG"
MiB = 1024 * 1024
_HASH_RE = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
_ORIGIN_RE = re.compile(r"^https?://[^/\s?#]+$|^(?:chrome|moz)-extension://[A-Za-z0-9._-]+$")


class SettingsError(ValueError):
    """A setting that cannot be used, with a message that says which and why."""


def _cpu_count() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _setting(default: Any = MISSING, help: str = "", *, factory: Any = MISSING,
             low: float | None = None, high: float | None = None,
             choices: tuple[str, ...] = (), secret: bool = False,
             default_text: str | None = None) -> Any:
    meta = {"help": help, "low": low, "high": high, "choices": choices, "secret": secret,
            "default_text": default_text}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Every setting of ``docvouch serve``; build with :func:`load_settings`."""

    home: str = _setting(
        "", "Where corpora and indexes live; empty means $DOCVOUCH_HOME, else the platform's "
        "user data directory.")
    host: str = _setting(
        "127.0.0.1", "Address to bind. Anything but loopback requires api_keys.")
    port: int = _setting(8765, "TCP port to listen on (0 picks a free one).", low=0, high=65535)
    health_port: int = _setting(
        0, "Also answer GET /healthz and /readyz on this port (same host), from a thread of "
        "their own: probes stay fast while the event loop is saturated. 0: off.",
        low=0, high=65535)
    health_stall_s: float = _setting(
        10.0, "On the health port, /healthz and /readyz answer 503 'stalled' once the event "
        "loop has not run for this long.", low=0.5, high=3600)
    workers: int = _setting(
        help="Worker processes that verify answers; each maps the indexes once.",
        factory=_cpu_count, low=1, high=256, default_text="CPU cores")
    queue_max: int = _setting(
        64, "Requests that may wait for a free worker; past it, 503 with Retry-After.",
        low=0, high=100_000)
    max_body_bytes: int = _setting(
        MiB, "Largest request body accepted (after decompression); larger gets 413.",
        low=1024, high=64 * MiB)
    max_answer_chars: int = _setting(
        100_000, "Longest answer text accepted; longer gets 422.", low=1, high=10_000_000)
    max_claims: int = _setting(
        200, "Most claims checked per answer (the rest are dropped, truncated=true).",
        low=1, high=10_000)
    max_claim_chars: int = _setting(
        1000, "Longest single claim; longer ones are cut.", low=50, high=100_000)
    top_k: int = _setting(
        10, "Passages retrieved per claim when options.top_k is not given.", low=1, high=50)
    default_corpus: str = _setting(
        "python", "Corpus used when options.corpus is not given.")
    request_deadline_s: float = _setting(
        10.0, "Time budget of one request, reading its body and waiting included; past it, "
        "504 (408 if the body has not arrived).", low=0.05, high=600)
    keepalive_timeout_s: float = _setting(
        75.0, "An idle connection, or one whose request headers are still unfinished, is "
        "closed after this long.", low=1, high=3600)
    shutdown_timeout_s: float = _setting(
        15.0, "On SIGTERM, how long in-flight requests may take to finish.", low=0, high=3600)
    worker_start_timeout_s: float = _setting(
        60.0, "How long a worker may take to map the indexes before it counts as failed.",
        low=1, high=3600)
    cache_entries: int = _setting(
        1024, "Verify results kept in memory (0 disables the cache).", low=0, high=1_000_000)
    cache_max_bytes: int = _setting(
        64 * MiB, "Upper bound on the memory the cached results take.", low=0, high=64 * 1024 * MiB)
    api_keys: tuple[str, ...] = _setting(
        (), "SHA-256 hex digests of the accepted API keys (comma-separated); clients send "
        "the key itself as 'Authorization: Bearer KEY'.", secret=True)
    admin_keys: tuple[str, ...] = _setting(
        (), "SHA-256 hex digests of the admin keys, for POST /v1/admin/* (comma-separated).",
        secret=True)
    cors_origins: tuple[str, ...] = _setting(
        (), "Origins allowed to call the API from a browser, exactly as sent "
        "(e.g. https://example.org); empty turns CORS off.")
    build_default_index: bool = _setting(
        True, "Build the default corpus on start-up when it is missing or stale.")
    verify_checksums: bool = _setting(
        True, "Check every index file against its manifest checksum when loading.")
    log_level: str = _setting(
        "info", "Lowest level logged: debug, info, warning or error.",
        choices=("debug", "info", "warning", "error"))
    log_format: str = _setting(
        "auto", "json lines, console, or auto (console on a terminal, json otherwise).",
        choices=("auto", "json", "console"))
    log_answers: bool = _setting(
        False, "Log answer and query text (debugging only: it is the user's data).")

    @property
    def loopback(self) -> bool:
        """True when bound to a loopback address only."""
        return is_loopback(self.host)

    @property
    def keys_required(self) -> bool:
        """API keys are checked when any are configured, and always off loopback."""
        return bool(self.api_keys) or not self.loopback

    def home_path(self) -> Path:
        """The configured home, or the default resolution (env, then platform dir)."""
        from docvouch.store import resolve_home  # store imports numpy; keep import-time light

        return resolve_home(self.home or None)

    def public(self) -> dict[str, Any]:
        """The settings as loggable values: secrets replaced by their count."""
        out: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            out[spec.name] = f"<{len(value)} configured>" if spec.metadata["secret"] else value
        return out


def setting_fields() -> tuple[Field[Any], ...]:
    """The table itself, in declaration order."""
    return fields(Settings)


def env_name(name: str) -> str:
    """The environment variable that sets ``name``."""
    return ENV_PREFIX + name.upper()


def default_text(spec: Field[Any]) -> str:
    """A setting's default as shown in --help and the docs."""
    if spec.metadata["default_text"]:
        return str(spec.metadata["default_text"])
    value = spec.default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value) or "(none)"
    if value == "":
        return "(empty)"
    return str(value)


def describe() -> Iterator[tuple[str, str, str, str]]:
    """(name, env var, default, help) for every setting."""
    for spec in setting_fields():
        yield spec.name, env_name(spec.name), default_text(spec), spec.metadata["help"]


def load_settings(*, config: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults ← TOML ``config`` ← ``DOCVOUCH_*`` in ``env`` ← ``overrides`` (None skipped)."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    config = config or env.get(CONFIG_ENV) or None
    if config:
        raw.update(_read_toml(Path(config)))
    known = {spec.name for spec in setting_fields()}
    for name in known:
        if env_name(name) in env:
            raw[name] = env[env_name(name)]
    for name, value in (overrides or {}).items():
        if name not in known:
            raise SettingsError(f"unknown setting {name!r}")
        if value is not None:
            raw[name] = value
    return build_settings(raw)


def build_settings(raw: Mapping[str, Any]) -> Settings:
    """Coerce, bound-check and cross-check raw values (strings from env, TOML values)."""
    specs = {spec.name: spec for spec in setting_fields()}
    values = {name: _coerce(specs[name], value) for name, value in raw.items()}
    settings = Settings(**values)
    settings = replace(settings, api_keys=_hashes(settings.api_keys, "api_keys"),
                       admin_keys=_hashes(settings.admin_keys, "admin_keys"))
    _cross_check(settings)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SettingsError(f"config file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"config file {path} cannot be read: {exc}") from exc
    # Settings sit at the top level, in a [serve] table, or both; other tables are other
    # commands' (no setting is a table), so one docvouch.toml can hold them all.
    serve = data.get("serve", {})
    if not isinstance(serve, dict):
        raise SettingsError(f"config file {path}: 'serve' must be a table ([serve])")
    top = {k: v for k, v in data.items() if k != "serve" and not isinstance(v, dict)}
    twice = sorted(set(top) & set(serve))
    if twice:
        raise SettingsError(f"config file {path}: {', '.join(twice)} set both at the top level "
                            "and under [serve]; keep one")
    table = {**top, **serve}
    known = {spec.name for spec in setting_fields()}
    unknown = sorted(set(table) - known)
    if unknown:
        raise SettingsError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return table


def _coerce(spec: Field[Any], value: Any) -> Any:
    name, kind = spec.name, spec.type
    try:
        if kind == "bool":
            out: Any = _to_bool(value)
        elif kind == "int":
            out = value if isinstance(value, int) and not isinstance(value, bool) \
                else int(str(value).strip())
        elif kind == "float":
            out = float(value) if not isinstance(value, bool) else _bad()
        elif kind == "tuple[str, ...]":
            items = value.split(",") if isinstance(value, str) else list(value)
            out = tuple(str(item).strip() for item in items if str(item).strip())
        else:
            out = str(value).strip() if isinstance(value, str | int | float) else _bad()
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name} ({env_name(name)}): {value!r} is not a valid "
                            f"{kind.split('[')[0]}") from exc
    meta = spec.metadata
    too_low = meta["low"] is not None and out < meta["low"]
    too_high = meta["high"] is not None and out > meta["high"]
    if too_low or too_high:
        raise SettingsError(f"{name}: {out} is outside {meta['low']}..{meta['high']}")
    if meta["choices"] and out not in meta["choices"]:
        raise SettingsError(f"{name}: {out!r} is not one of {', '.join(meta['choices'])}")
    return out


def _bad() -> Any:
    raise ValueError("wrong type")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


def _hashes(values: tuple[str, ...], name: str) -> tuple[str, ...]:
    out = []
    for value in values:
        match = _HASH_RE.match(value)
        if not match:
            # Never echo the value: it may be a raw key pasted by mistake.
            raise SettingsError(
                f"{name}: every entry must be a SHA-256 hex digest of a key, not the key "
                "itself; make one with `docvouch serve --generate-key`, or "
                "`printf %s \"$KEY\" | sha256sum`")
        out.append(match.group(1).lower())
    return tuple(out)


def _cross_check(settings: Settings) -> None:
    if settings.health_port and settings.health_port == settings.port:
        raise SettingsError(f"health_port: {settings.health_port} is already the service's "
                            "port; pick another (or 0 to turn the health port off)")
    if not settings.loopback and not settings.api_keys:
        raise SettingsError(
            f"host {settings.host} is not a loopback address: set api_keys "
            f"({env_name('api_keys')}) so only key holders can use the service")
    for origin in settings.cors_origins:
        if origin == "*":
            if settings.keys_required:
                raise SettingsError("cors_origins: '*' cannot be combined with API keys; "
                                    "list the origins exactly")
        elif not _ORIGIN_RE.match(origin):
            raise SettingsError(f"cors_origins: {origin!r} is not an origin "
                                "(scheme://host[:port], no path or trailing slash)")


@lru_cache(maxsize=64)
def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals; names that need DNS count as remote.

    Memoised: every request asks (``keys_required``) about the same one or two hosts."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def markdown_table() -> str:
    """The settings as the Markdown table in docs/SERVICE.md (a test keeps them equal)."""
    rows = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for name, env, default, text in describe():
        rows.append(f"| `{name}` | `{env}` | `{default}` | {text} |")
    return "\n".join(rows)
