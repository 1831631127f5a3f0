"""Structured logs: one JSON object per line on stdout (or a readable console rendering).

What goes in: event name, level, UTC timestamp, and the request context bound by the
access middleware (``request_id``, ``route``). What never goes in unless ``log_answers``
is set: answer text, search queries, API keys. Library loggers (aiohttp, asyncio) are
routed through the same renderer so every line has one shape.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog
from aiohttp.http_exceptions import HttpProcessingError

from docvouch.settings import Settings

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}


def _orjson_str(obj: Any, **_kwargs: Any) -> str:
    # default=str: a Path or an exception in an event must not break the log line.
    return orjson.dumps(obj, default=str).decode()


def configure(settings: Settings, *, stream: Any = None) -> None:
    """Set up structlog and stdlib logging for the process (call once, from the CLI)."""
    stream = stream or sys.stdout
    console = settings.log_format == "console" or (
        settings.log_format == "auto" and hasattr(stream, "isatty") and stream.isatty())
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=False) if console
                     else structlog.processors.JSONRenderer(serializer=_orjson_str))
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    level = LEVELS[settings.log_level]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream),
        # Not cached: a per-call config look-up costs microseconds and lets tests reconfigure.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    handler.addFilter(redact_parser_errors)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.INFO))
    # aiohttp's access logger is replaced by our own access line.
    logging.getLogger("aiohttp.access").disabled = True


def redact_parser_errors(record: logging.LogRecord) -> bool:
    """Strip the raw request bytes aiohttp quotes when its HTTP parser refuses a request.

    Those messages echo the start of the offending line, which can be an Authorization
    header (an over-long key) or answer text; the exception class and status are enough.
    """
    exc = record.exc_info[1] if record.exc_info else None
    if record.name == "aiohttp.server" and isinstance(exc, HttpProcessingError):
        record.msg = "bad HTTP request refused by the parser: %s (status %s)"
        record.args = (type(exc).__name__, exc.code)
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.INFO, "INFO"
    return True


def get_logger(name: str) -> Any:
    """A structlog logger tagged with the component name (bound lazily, after configure)."""
    return structlog.get_logger(component=name)
