"""Typed keys for the state the app and each request carry (``web.AppKey``)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from docvouch.auth import KeyRing
from docvouch.cache import ResultCache
from docvouch.metrics import Metrics
from docvouch.pool import WorkerPool
from docvouch.settings import Settings
from docvouch.validation import BodyBudget

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
CACHE = web.AppKey("cache", ResultCache)
BODIES = web.AppKey("bodies", BodyBudget)
API_KEYS = web.AppKey("api_keys", KeyRing)
ADMIN_KEYS = web.AppKey("admin_keys", KeyRing)
POOL = web.AppKey("pool", WorkerPool)
LOADER = web.AppKey("loader", asyncio.Task)
STATIC = web.AppKey("static", dict)
OPENAPI = web.AppKey("openapi", bytes)
STARTED = web.AppKey("started", float)
ACCESS_LOG = web.AppKey("access_log", Any)  # a bound structlog logger
DRAINS = web.AppKey("drains", set)  # connections.BodyDrain objects still running

# Per-request values, set by the context middleware (web.RequestKey: aiohttp >= 3.14).
REQUEST_ID = web.RequestKey("request_id", str)
DEADLINE = web.RequestKey("deadline", float)  # loop.time() by which the answer is due
LOG_EXTRA = web.RequestKey("log_extra", dict)  # handler facts for the access log line
