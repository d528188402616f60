"""What a running server holds: the loaded service, one runner per API, shared state.

This module owns :class:`ServiceRuntime` (a loaded service with its runners and
rendered documents, swappable while requests are in flight) and
:class:`ServerState` (what every handler shares: the current runtime, or none
while models load; metrics; the request guard; the in-flight count; whether the
server is shutting down). It never imports tornado, the handlers, notebook/ or
the CLI.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from bentonb.adapters.base import RequestLimits
from bentonb.errors import BentonbError
from bentonb.server.batching import MicroBatchDispatcher
from bentonb.server.direct import DirectRunner, LoopRunner
from bentonb.server.guards import RequestGuard
from bentonb.server.metrics import ServerMetrics
from bentonb.server.openapi import openapi_spec
from bentonb.server.pages import index_page, swagger_page
from bentonb.server.runner_host import RunnerHost

if TYPE_CHECKING:
    from bentonb.server.app import ServerConfig


def service_metadata(service: Any) -> dict[str, Any]:
    """The manifest of a saved service, or the same fields for an unsaved one."""
    from bentonb.bundle.manifest import BundleManifest

    if service.bundle_path is not None:
        try:
            return BundleManifest.read(service.bundle_path).to_dict()
        except BentonbError:
            pass
    from bentonb.bundle.writer import api_spec

    return {"name": service.name, "version": service.version, "labels": service.labels,
            "apis": [vars(api_spec(a)) for a in service.inference_apis],
            "artifacts": [{"name": a.name, "type": a.type_name, "metadata": a.metadata}
                          for a in service.artifacts]}


def _open_streams(api: Any) -> Any:
    """What a streaming API's runner calls: one generator per request, not run yet."""
    return lambda values: [api.open_stream(v) for v in values]


def request_limits(config: ServerConfig) -> RequestLimits:
    """The adapters' request limits that the server's flags set (``--max-image-pixels``);
    the adapters' defaults where a flag is not given."""
    if config.max_image_pixels is None:
        return RequestLimits()
    return RequestLimits(max_image_pixels=config.max_image_pixels)


class ServiceRuntime:
    """A loaded service with one runner per API and its rendered documents."""

    def __init__(self, service: Any, config: ServerConfig, metrics: ServerMetrics) -> None:
        self.service = service
        # A 1.x service's runners batch through this server's micro-batchers.
        self.host: RunnerHost | None = None
        if callable(getattr(service, "bind_host", None)):
            self.host = RunnerHost(config, metrics)
            service.bind_host(self.host)
        self.apis: dict[str, Any] = {}
        self.runners: dict[str, Any] = {}
        for api in service.inference_apis:
            self.apis[api.route] = api
            hook = metrics.hook(api.name)
            streaming = getattr(api, "streaming", False)
            if getattr(api, "on_loop", False):
                self.runners[api.route] = LoopRunner(api.run_async, name=api.name,
                                                     metrics=hook)
            elif api.batch and config.enable_microbatch and not streaming:
                self.runners[api.route] = MicroBatchDispatcher(
                    api.run_batch, name=api.name, metrics=hook,
                    max_batch_size=config.mb_max_batch_size or api.mb_max_batch_size,
                    max_latency_ms=config.mb_max_latency or api.mb_max_latency,
                    schema=api.input_adapter.schema)
            else:
                # A streaming API's call gives its generator; the items are read later.
                run = _open_streams(api) if streaming else api.run_batch
                self.runners[api.route] = DirectRunner(
                    run, name=api.name, metrics=hook,
                    max_concurrency=config.max_concurrency
                    or getattr(api, "max_concurrency", None) or 1,
                    max_queue=config.max_queue, max_wait=config.timeout)
        self.metadata = json.dumps(service_metadata(service), default=str)
        self.openapi = json.dumps(openapi_spec(service))
        static = getattr(service, "web_static_dir", None)
        #: The ``@web_static_content`` files served at ``/`` (None: the default page only).
        self.static_dir = static if static is not None and static.is_dir() else None
        self.docs = swagger_page(service.name)
        # A service declares what ``/`` shows: Swagger UI (1.x) or the bentonb page (0.x).
        self.index = (self.docs if getattr(service, "root_page", "ui") == "swagger"
                      else index_page(service, api_key=bool(config.api_key)))
        self.in_flight = 0
        self.retired = False

    def acquire(self) -> None:
        self.in_flight += 1
        if self.host is not None:
            self.host.bind_loop()

    def release(self) -> None:
        self.in_flight -= 1
        if self.retired and self.in_flight == 0:
            self.close()

    def retire(self) -> None:
        """Stop taking new requests; close once the ones in flight are answered."""
        self.retired = True
        if self.in_flight == 0:
            self.close()

    def close(self) -> None:
        for runner in self.runners.values():
            runner.close()
        if self.host is not None:
            self.service.unbind_host(self.host)
            self.host.close()


class ServerState:
    """What every handler shares. ``runtime`` is None until a service is installed
    (models still loading): meanwhile ``/readyz`` answers 503 and prediction
    requests wait for the models (up to ``--timeout``)."""

    def __init__(self, service: Any | None, config: ServerConfig) -> None:
        self.config = config
        self.metrics = ServerMetrics()
        self.guard = RequestGuard(config.host, config.allow_hosts, config.cors_origins)
        self.limits = request_limits(config)
        self.runtime: ServiceRuntime | None = None
        self.in_flight = 0
        self.shutting_down = False
        self._loaded = asyncio.Event()
        if service is not None:
            self.swap(service)

    @property
    def ready(self) -> bool:
        """True once models are loaded, until shutdown begins (never false because of
        load: an overloaded server is still ready and sheds with 503 itself)."""
        return self.runtime is not None and not self.shutting_down

    def swap(self, service: Any) -> None:
        """Serve ``service`` from now on; requests in flight finish on the old one."""
        old, self.runtime = self.runtime, ServiceRuntime(service, self.config, self.metrics)
        self._loaded.set()
        if old is not None:
            old.retire()

    async def wait_loaded(self, timeout: float) -> bool:
        """Wait until a service is installed; False when ``timeout`` passed first."""
        try:
            await asyncio.wait_for(self._loaded.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def started(self, runtime: ServiceRuntime) -> None:
        self.in_flight += 1
        runtime.acquire()

    def finished(self, runtime: ServiceRuntime) -> None:
        runtime.release()
        self.in_flight -= 1

    def close(self) -> None:
        """Retire the runtime: its runners close once the requests in flight are done."""
        self._loaded.set()  # requests still waiting for models stop waiting
        if self.runtime is not None:
            self.runtime.retire()
