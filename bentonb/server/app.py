"""The Tornado application serving one service: APIs, docs, health, metadata, metrics.

Handlers stay thin: they parse the request into an :class:`HttpRequest`, hand
the value to the API's runner (a micro-batch dispatcher or a direct runner),
and write the answer. The service lives in a :class:`ServiceRuntime` that can
be swapped for a new version while requests are in flight.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

import tornado.web

from bentonb.adapters.base import HttpRequest
from bentonb.errors import BadInput, BentonbError, InvalidArgument, Overloaded
from bentonb.server.batching import DirectRunner, MicroBatchDispatcher
from bentonb.server.logs import ACCESS, PREDICTION
from bentonb.server.metrics import CONTENT_TYPE, ServerMetrics
from bentonb.server.openapi import openapi_spec
from bentonb.server.pages import index_page, swagger_page

MB = 1024 * 1024
# Request ids: unique per process start, cheap to make (no syscall per request).
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"
#: Bodies above this size are parsed off the event loop.
_PARSE_OFF_LOOP_BYTES = 256 * 1024


@dataclass
class ServerConfig:
    """How a server runs; every field has the CLI's default."""

    host: str = "127.0.0.1"
    port: int = 5000
    enable_microbatch: bool = True
    mb_max_batch_size: int | None = None
    mb_max_latency: float | None = None
    max_request_size: int = 20 * MB
    api_key: str | None = None
    log_format: str = "text"


def choose_api_key(choice: str | None, public: bool) -> str | None:
    """``auto``: a new key when the server is public, none otherwise; ``none``: no key;
    anything else is the key itself (8 characters at least)."""
    if choice in (None, "auto"):
        return secrets.token_urlsafe(24) if public else None
    if choice == "none":
        return None
    if len(choice) < 8:
        raise InvalidArgument("an API key needs at least 8 characters (or use 'auto'/'none')")
    return choice


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


class ServiceRuntime:
    """A loaded service with one runner per API and its rendered documents."""

    def __init__(self, service: Any, config: ServerConfig, metrics: ServerMetrics) -> None:
        self.service = service
        self.apis: dict[str, Any] = {}
        self.runners: dict[str, Any] = {}
        for api in service.inference_apis:
            self.apis[api.route] = api
            hook = metrics.hook(api.name)
            if api.batch and config.enable_microbatch:
                self.runners[api.route] = MicroBatchDispatcher(
                    api.run_batch, name=api.name, metrics=hook,
                    max_batch_size=config.mb_max_batch_size or api.mb_max_batch_size,
                    max_latency_ms=config.mb_max_latency or api.mb_max_latency)
            else:
                self.runners[api.route] = DirectRunner(api.run_batch, name=api.name,
                                                       metrics=hook)
        self.metadata = json.dumps(service_metadata(service), default=str)
        self.openapi = json.dumps(openapi_spec(service))
        self.index = index_page(service)
        self.docs = swagger_page(service.name)
        self.in_flight = 0
        self.retired = False

    def acquire(self) -> None:
        self.in_flight += 1

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


class ServerState:
    """What every handler shares: the current runtime, metrics, in-flight count."""

    def __init__(self, service: Any, config: ServerConfig) -> None:
        self.config = config
        self.metrics = ServerMetrics()
        self.runtime = ServiceRuntime(service, config, self.metrics)
        self.in_flight = 0
        self.shutting_down = False
        self._idle: asyncio.Event | None = None

    def swap(self, service: Any) -> None:
        """Serve ``service`` from now on; requests in flight finish on the old one."""
        old, self.runtime = self.runtime, ServiceRuntime(service, self.config, self.metrics)
        old.retire()

    def started(self, runtime: ServiceRuntime) -> None:
        self.in_flight += 1
        runtime.acquire()

    def finished(self, runtime: ServiceRuntime) -> None:
        runtime.release()
        self.in_flight -= 1
        if self.in_flight == 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight; False when ``timeout`` passed first."""
        if self.in_flight == 0:
            return True
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


class BaseHandler(tornado.web.RequestHandler):
    """Request ids, JSON errors, and access to the shared :class:`ServerState`."""

    state: ServerState

    def initialize(self, state: ServerState) -> None:
        self.state = state

    def prepare(self) -> None:
        self.request_id = self.request.headers.get("X-Request-Id") or new_request_id()
        self.set_header("X-Request-Id", self.request_id)

    def write_json_error(self, status: int, message: str) -> None:
        self.clear_header("Content-Type")
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message, "request_id": self.request_id}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = self._reason
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif status_code == 405:
            allowed = "POST" if isinstance(self, ApiHandler) else "GET"
            message = f"{self.request.method} is not allowed on {self.request.path}; " \
                      f"use {allowed}"
        if not hasattr(self, "request_id"):
            self.request_id = new_request_id()
            self.set_header("X-Request-Id", self.request_id)
        self.write_json_error(status_code, message)


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        super().prepare()
        routes = ", ".join(f"/{r}" for r in self.state.runtime.apis)
        self.write_json_error(404, f"no route {self.request.path}; APIs: {routes}; "
                                   "see /docs")


@tornado.web.stream_request_body
class ApiHandler(BaseHandler):
    """``POST /<route>`` (and ``GET`` for JSON and string inputs) of every API."""

    def prepare(self) -> None:
        super().prepare()
        self._chunks: list[bytes] = []
        self._size = 0
        self._started = time.perf_counter()
        self.runtime = self.state.runtime
        self.api = self.runtime.apis.get(self.path_args[0])
        if self.api is None:
            routes = ", ".join(f"/{r}" for r in self.runtime.apis)
            self.write_json_error(404, f"no API at {self.request.path}; APIs: {routes}")
            return
        self.runner = self.runtime.runners[self.api.route]
        # Counted from here, not from when the body is in: a swap must not close this
        # runtime while the body is still arriving.
        self.state.started(self.runtime)
        self._counted = True
        if self.state.config.api_key and not self._authorized():
            self.set_header("WWW-Authenticate", "Bearer")
            self.write_json_error(401, "missing or wrong API key: send "
                                       "'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
            return
        limit = self.state.config.max_request_size
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            self._too_large()

    def on_finish(self) -> None:
        self._uncount()

    def on_connection_close(self) -> None:
        self._uncount()

    def _uncount(self) -> None:
        if getattr(self, "_counted", False):
            self._counted = False
            self.state.finished(self.runtime)

    def _authorized(self) -> bool:
        auth = self.request.headers.get("Authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else \
            self.request.headers.get("X-API-Key", "")
        return hmac.compare_digest(given.encode(), self.state.config.api_key.encode())

    def _too_large(self) -> None:
        limit = self.state.config.max_request_size
        self.set_header("Connection", "close")
        self.write_json_error(413, f"request body is larger than the server accepts "
                                   f"({limit / MB:g} MB; see --max-request-size)")

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._size += len(chunk)
        if self._size > self.state.config.max_request_size:
            self._too_large()
            return
        self._chunks.append(chunk)

    async def post(self, route: str) -> None:
        await self._answer(HttpRequest(b"".join(self._chunks), self.request.headers,
                                       "POST", self.request.query_arguments))

    async def get(self, route: str) -> None:
        if not self.api.input_adapter.accepts_query:
            raise tornado.web.HTTPError(405, f"/{route} takes POST requests with a "
                                             f"{self.api.input_adapter.type_name} body")
        query = {k: [v.decode("utf-8", "replace") for v in vs]
                 for k, vs in self.request.query_arguments.items()}
        await self._answer(HttpRequest(b"", self.request.headers, "GET", query))

    def _log_failure(self, exc: BaseException) -> None:
        if not getattr(exc, "__bentonb_logged__", False):
            PREDICTION.error("%s failed for request %s", self.api.name, self.request_id,
                             exc_info=exc, extra={"api": self.api.name,
                                                  "request_id": self.request_id})

    async def _answer(self, request: HttpRequest) -> None:
        state, api = self.state, self.api
        status = 500
        try:
            adapter = api.input_adapter
            if len(request.body) > _PARSE_OFF_LOOP_BYTES:
                value = await asyncio.get_running_loop().run_in_executor(
                    None, adapter.parse_http, request)
            else:
                value = adapter.parse_http(request)
            count = adapter.count(value)
            if count == 0:
                raise BadInput("request holds no input items")
            result = await self.runner.submit(value, count, self.request_id)
            response = api.output_adapter.to_http(result)
            status = response.status
            self.set_status(status)
            self.set_header("Content-Type", response.content_type)
            self.finish(response.body)
        except Overloaded as exc:
            status = 503
            self.set_header("Retry-After", str(int(exc.retry_after)))
            self.write_json_error(503, str(exc))
        except BentonbError as exc:
            status = exc.status_code
            if status >= 500:
                self._log_failure(exc)
                self.write_json_error(status, f"API '{api.name}' failed: {exc}")
            else:
                self.write_json_error(status, str(exc))
        except Exception as exc:  # noqa: BLE001 - the user's function may raise anything
            self._log_failure(exc)
            self.write_json_error(500, f"API '{api.name}' raised {type(exc).__name__}; "
                                       f"see the server log for request {self.request_id}")
        finally:
            state.metrics.observe(api.name, status, time.perf_counter() - self._started)


class StaticPage(BaseHandler):
    """Pages rendered once per runtime: ``/``, ``/docs``, ``/docs.json``, ``/metadata``."""

    def initialize(self, state: ServerState, attr: str, content_type: str) -> None:
        super().initialize(state)
        self.attr, self.content_type = attr, content_type

    def get(self) -> None:
        self.set_header("Content-Type", self.content_type)
        self.finish(getattr(self.state.runtime, self.attr))


class HealthHandler(BaseHandler):
    def initialize(self, state: ServerState, ready: bool = False) -> None:
        super().initialize(state)
        self.ready = ready

    def get(self) -> None:
        if self.ready and self.state.shutting_down:
            self.write_json_error(503, "shutting down")
            return
        self.finish({"status": "ok"})


class MetricsHandler(BaseHandler):
    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(self.state.metrics.render())


def _log_access(handler: tornado.web.RequestHandler) -> None:
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    request = handler.request
    ms = request.request_time() * 1000
    status = handler.get_status()
    ACCESS.info("%s %s %d %.1fms", request.method, request.uri, status, ms,
                extra={"method": request.method, "path": request.path, "status": status,
                       "latency_ms": round(ms, 2), "remote": request.remote_ip,
                       "request_id": getattr(handler, "request_id", None)})


def make_app(service: Any, config: ServerConfig | None = None) -> tornado.web.Application:
    """Build the Tornado application serving ``service``; its state is ``app.state``."""
    import swagger_ui_bundle

    state = ServerState(service, config or ServerConfig())
    s = {"state": state}
    app = tornado.web.Application([
        (r"/", StaticPage, {**s, "attr": "index", "content_type": "text/html; charset=utf-8"}),
        (r"/docs/?", StaticPage, {**s, "attr": "docs",
                                  "content_type": "text/html; charset=utf-8"}),
        (r"/docs\.json", StaticPage, {**s, "attr": "openapi",
                                      "content_type": "application/json"}),
        (r"/metadata", StaticPage, {**s, "attr": "metadata",
                                    "content_type": "application/json"}),
        (r"/docs/static/(.*)", tornado.web.StaticFileHandler,
         {"path": swagger_ui_bundle.swagger_ui_path}),
        (r"/(?:healthz|livez)", HealthHandler, s),
        (r"/readyz", HealthHandler, {**s, "ready": True}),
        (r"/metrics", MetricsHandler, s),
        (r"/(.+)", ApiHandler, s),
    ], default_handler_class=NotFoundHandler, default_handler_args=s,
        log_function=_log_access, compress_response=False)
    app.state = state
    return app
