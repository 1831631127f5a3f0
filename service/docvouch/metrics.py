"""Prometheus metrics of one app, in its own registry (several apps can share a process).

Names follow the Prometheus conventions: ``docvouch_`` prefix, base units in the name
(``_seconds``, ``_bytes``), ``_total`` on counters. Route labels are the route templates
(``/v1/verify``), never raw paths, so a scan of random URLs cannot blow up cardinality.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from docvouch import __version__, accel

# The *_created series double the exposition size and nothing here reads them.
disable_created_metrics()

# Latency buckets from a cache hit (sub-millisecond) to the default 10 s deadline.
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                     1.0, 2.5, 5.0, 10.0, 30.0)
CLAIM_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500)
VERDICTS = ("supported", "partial", "unsupported", "contradicted")


class Metrics:
    """Every metric the service exports, registered in one private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        Gauge("docvouch_build_info", "DocVouch version, and its engine: compiled (mypyc) "
              "or python.", ["version", "engine"],
              registry=reg).labels(__version__, accel.state().label).set(1)
        self.requests = Counter(
            "docvouch_http_requests_total", "HTTP requests answered.",
            ["route", "method", "status"], registry=reg)
        self.latency = Histogram(
            "docvouch_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["route", "method"], buckets=LATENCY_BUCKETS_S, registry=reg)
        self.in_flight = Gauge("docvouch_http_requests_in_flight",
                               "HTTP requests being handled.", registry=reg)
        self.verdicts = Counter("docvouch_verdicts_total", "Claims judged, by verdict.",
                                ["verdict"], registry=reg)
        self.claims = Histogram("docvouch_claims_per_answer", "Claims found in one answer.",
                                buckets=CLAIM_BUCKETS, registry=reg)
        self.cache = Counter("docvouch_cache_requests_total",
                             "Verify cache look-ups: hit, miss, or joined (same answer in "
                             "flight).", ["result"], registry=reg)
        self.rejected = Counter("docvouch_rejected_total",
                                "Requests refused for capacity: overloaded, not_ready, "
                                "deadline_exceeded, worker_lost.", ["reason"], registry=reg)
        self.worker_restarts = Counter("docvouch_worker_restarts_total",
                                       "Worker processes replaced after dying or hanging.",
                                       ["cause"], registry=reg)
        self.reloads = Counter("docvouch_index_reloads_total",
                               "Index reloads (SIGHUP or admin), by result.", ["result"],
                               registry=reg)
        self.index_passages = Gauge("docvouch_index_passages", "Passages in a loaded corpus.",
                                    ["corpus"], registry=reg)
        self.index_symbols = Gauge("docvouch_index_symbols", "Symbols in a loaded corpus.",
                                   ["corpus"], registry=reg)
        self.index_bytes = Gauge("docvouch_index_bytes", "Size on disk of a loaded index.",
                                 ["corpus"], registry=reg)
        # The labelled children of the per-request series, looked up once per label set:
        # labels() takes a lock and builds a key on every call, and every refusal of a
        # flood passes here (routes are templates, statuses few: the set stays small).
        self._request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        for verdict in VERDICTS:  # export zeros, so rate() works from the first scrape
            self.verdicts.labels(verdict)
        for result in ("hit", "miss", "joined"):
            self.cache.labels(result)

    def gauge_from(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A gauge whose value is read at scrape time (queue depth, live workers...)."""
        Gauge(name, help_text, registry=self.registry).set_function(read)

    def gauges_from(self, name: str, help_text: str, label: str,
                    read: Callable[[], Mapping[str, float]]) -> None:
        """One gauge per value of ``label``, all read at scrape time (a value absent from
        the mapping is absent from the scrape, not left at its last figure)."""
        self.registry.register(_GaugesFrom(name, help_text, label, read))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        series = self._request_series.get((route, method, status))
        if series is None:
            series = (self.requests.labels(route, method, str(status)),
                      self.latency.labels(route, method))
            self._request_series[(route, method, status)] = series
        series[0].inc()
        series[1].observe(seconds)

    def observe_result(self, summary: Mapping[str, Any]) -> None:
        """Verdict and claim counts of one answer (its ``summary``)."""
        for verdict in VERDICTS:
            count = summary.get(verdict, 0)
            if count:
                self.verdicts.labels(verdict).inc(count)
        self.claims.observe(summary.get("claims", 0))

    def set_corpora(self, corpora: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace the per-corpus gauges with the loaded set (a reload may drop one)."""
        for gauge in (self.index_passages, self.index_symbols, self.index_bytes):
            gauge.clear()
        for name, info in corpora.items():
            self.index_passages.labels(name).set(info.get("passages", 0))
            self.index_symbols.labels(name).set(info.get("symbols", 0))
            self.index_bytes.labels(name).set(info.get("index_bytes", 0))

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition body and its content type, negotiated from ``Accept``."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class _GaugesFrom(Collector):
    def __init__(self, name: str, help_text: str, label: str,
                 read: Callable[[], Mapping[str, float]]) -> None:
        self.name, self.help_text, self.label, self.read = name, help_text, label, read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.help_text, labels=[self.label])
        for value, figure in sorted(self.read().items()):
            family.add_metric([value], figure)
        yield family
