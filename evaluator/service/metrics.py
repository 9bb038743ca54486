"""The service's metrics, in the Prometheus text format (GET /metrics), with prometheus_client.

Each application has a registry of its own, so that two in one process (tests) keep their own counts.

>>> metrics = Metrics()
>>> metrics.decisions.labels(criteria="irmer-2024-08-28", verdict="notifiable").inc()
>>> b'irmer_decisions_total{criteria="irmer-2024-08-28",verdict="notifiable"} 1.0' in metrics.text()
True
"""

from __future__ import annotations

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               disable_created_metrics, generate_latest)

disable_created_metrics()  # no *_created series: the counters' start time is not worth a line each

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Request latencies from 1 ms to 30 s (the default time limit).
LATENCY = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The counters, gauges and histograms of one application."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("irmer_http_requests", "HTTP requests answered, by route and status.",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("irmer_http_request_duration_seconds", "Time to answer a request, by route.",
                                 ["route"], buckets=LATENCY, registry=registry)
        self.in_flight = Gauge("irmer_http_requests_in_flight", "Requests being answered now.", registry=registry)
        self.decisions = Counter("irmer_decisions", "Incidents decided, by criteria version and verdict "
                                 "(notifiable, not_notifiable, undetermined, error).", ["criteria", "verdict"],
                                 registry=registry)
        self.timeouts = Counter("irmer_request_timeouts", "Requests stopped by the time limit.", registry=registry)
        self.log_entries = Counter("irmer_decision_log_entries", "Decisions written to the decision log.",
                                   registry=registry)
        self.log_bytes = Counter("irmer_decision_log_bytes", "Bytes written to the decision log.", registry=registry)
        self.log_flush = Histogram("irmer_decision_log_flush_seconds", "Time to write and fsync a group of "
                                   "decisions.", buckets=LATENCY, registry=registry)
        self.log_failures = Counter("irmer_decision_log_failures", "Requests refused because their decisions "
                                    "could not be logged.", registry=registry)

    def flushed(self, entries: int, size: int, seconds: float) -> None:
        """The decision log's report after each durable write."""
        self.log_entries.inc(entries)
        self.log_bytes.inc(size)
        self.log_flush.observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)
