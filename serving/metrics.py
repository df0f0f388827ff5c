"""Prometheus metrics and the access log of the service.

`/metrics` (text format, behind the API key when one is set) counts requests by route and status, times them,
counts the clauses classified, and records how many clauses each inference call ran and how long it waited for
the inference thread; `clausemap_model_info` names the model being served. Each request also writes one
structured access-log line (route, status, ms, clauses, model version) — never a clause text or a key.
"""

from __future__ import annotations

import json
import logging
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("clausemap.access")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServiceMetrics:
    """One registry per app, so several apps in one process (tests, benchmarks) keep their own counts."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("clausemap_requests", "HTTP requests by route template and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("clausemap_request_seconds", "HTTP request latency by route template",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.clauses = Counter("clausemap_clauses_classified", "clauses classified", registry=self.registry)
        self.batch = Histogram("clausemap_inference_batch_clauses", "clauses per inference call",
                               buckets=BATCH_BUCKETS, registry=self.registry)
        self.queue_wait = Histogram("clausemap_inference_queue_seconds",
                                    "time an inference call waited for the inference thread",
                                    buckets=LATENCY_BUCKETS, registry=self.registry)
        self.model = Info("clausemap_model", "the model being served", registry=self.registry)

    def inference(self, clauses: int, waits: list[float]) -> None:
        """One inference call of `clauses` clauses, merged from requests that each waited `waits` seconds."""
        self.clauses.inc(clauses)
        self.batch.observe(clauses)
        for waited in waits:
            self.queue_wait.observe(waited)

    def serving(self, model_version: str) -> None:
        self.model.info({"version": model_version})


class AccessLog:
    """ASGI middleware: metrics and one JSON access-log line per HTTP request.

    Routes that classify put the clause count in `request.state.clauses`; the route is the matched template
    (`/webhook/jobs/{job_id}`), so metric labels stay few and no path parameter is logged."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, model_version):
        self.app, self.metrics, self.model_version = app, metrics, model_version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or ("/static" if scope["path"].startswith("/static/")
                                                                   else "unmatched")
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(seconds)
            clauses = (scope.get("state") or {}).get("clauses")
            access_log.info(json.dumps({"route": route, "method": scope["method"], "status": status,
                                        "ms": round(seconds * 1000, 1), "clauses": clauses,
                                        "model_version": self.model_version()}, ensure_ascii=False))
