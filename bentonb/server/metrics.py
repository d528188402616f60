"""Prometheus metrics of one server, in a registry of its own: requests by API and
status, latency, batch sizes, queue depth, requests in progress, rejections. It
never imports tornado, the handlers, notebook/ or the CLI."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServerMetrics:
    """Requests by API and status, latency, batch sizes, queue depth, rejections."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("bentonb_requests", "Prediction requests answered.",
                                ["api", "status"], registry=self.registry)
        self.latency = Histogram(
            "bentonb_request_duration_seconds", "Time to answer a prediction request.",
            ["api"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.batch_size = Histogram(
            "bentonb_batch_size", "Items per model call.", ["api"], registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096))
        self.queue_depth = Gauge("bentonb_queue_depth", "Items waiting for the model.",
                                 ["api"], registry=self.registry)
        self.rejected = Counter("bentonb_rejected", "Requests refused with 503 (overload).",
                                ["api"], registry=self.registry)
        self.in_progress = Gauge("bentonb_requests_in_progress",
                                 "Prediction requests received and not yet answered.",
                                 ["api"], registry=self.registry)
        self._children: dict[tuple[str, int], tuple] = {}
        self._in_progress: dict[str, Gauge] = {}
        #: Called as ``listener(api, status, seconds)`` after each answered request, on
        #: the server's event loop (keep it short; the notebook's live panel is one).
        self.listeners: list[Callable[[str, int, float], None]] = []

    def hook(self, api: str):
        """A callback for a dispatcher of ``api``: ``hook(event, value)``."""
        queue, batch = self.queue_depth.labels(api), self.batch_size.labels(api)
        rejected = self.rejected.labels(api)

        def report(event: str, value: float) -> None:
            if event == "queue":
                queue.set(value)
            elif event == "batch":
                batch.observe(value)
            elif event == "rejected":
                rejected.inc(value)
        return report

    def progress(self, api: str) -> Gauge:
        """The requests-in-progress gauge of ``api`` (looked up once)."""
        gauge = self._in_progress.get(api)
        if gauge is None:
            gauge = self._in_progress[api] = self.in_progress.labels(api)
        return gauge

    def observe(self, api: str, status: int, seconds: float) -> None:
        key = (api, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(api, str(status)),
                                              self.latency.labels(api))
        children[0].inc()
        children[1].observe(seconds)
        for listener in self.listeners:
            listener(api, status, seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
