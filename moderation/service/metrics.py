"""Prometheus metrics and one log line per request, for every endpoint alike."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger("moderation.serve")


@dataclass
class Metrics:
    """Prometheus metrics of one app. Under ``--workers`` (``PROMETHEUS_MULTIPROC_DIR`` set) every worker
    writes its values to that folder and ``/metrics`` sums all workers."""

    version: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self):
        r = self.registry
        self.requests = Counter("moderation_requests", "HTTP requests by endpoint and status",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("moderation_request_seconds", "Request latency by endpoint", ["endpoint"],
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10), registry=r)
        self.decisions = Counter("moderation_decisions", "Decisions answered (Coral phase, /v1/score) by kind",
                                 ["decision"], registry=r)
        self.unjudged = Counter("moderation_coral_unjudged", "Coral comments held unjudged, by cause", ["cause"],
                                registry=r)
        Gauge("moderation_model_info", "The loaded models' version", ["version"], registry=r,
              multiprocess_mode="max").labels(self.version).set(1)

    def exposition(self) -> bytes:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)


class Observe:
    """ASGI middleware: latency and status of every request to metrics and one log line (path without the
    query string, which may hold an API key; never the body)."""

    def __init__(self, app, metrics: Metrics, endpoints: set[str]):
        self.app = app
        self.metrics = metrics
        self.endpoints = endpoints

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - started
            endpoint = scope["path"] if scope["path"] in self.endpoints else "other"
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(seconds)
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, seconds * 1000)
