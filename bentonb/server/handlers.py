"""The routes other than prediction, and the checks every request passes first.

This module owns :class:`BaseHandler` (request id, Host and Origin checks, CORS
headers and preflight, JSON errors, ``Allow`` on 405) and the small handlers:
pages, Swagger assets, health, metrics, unknown routes, and the access log.
Handlers stay thin; the decisions live in :mod:`bentonb.server.guards` and
:mod:`bentonb.server.runtime`. It never imports notebook/ or the CLI.
"""

from __future__ import annotations

import html
import json
from typing import Any

import tornado.routing
import tornado.web

from bentonb.server.guards import new_request_id, request_id
from bentonb.server.logs import access_entry
from bentonb.server.metrics import CONTENT_TYPE
from bentonb.server.pages import ORIGIN
from bentonb.server.runtime import ServerState

#: Headers a browser page of a listed origin may send.
CORS_REQUEST_HEADERS = "Authorization, Content-Type, X-API-Key, X-Request-Id"
LOADING = "models are still loading; retry shortly (see /readyz)"


class BaseHandler(tornado.web.RequestHandler):
    """Request ids, the Host/Origin checks, CORS, JSON errors, shared state."""

    state: ServerState
    #: Methods the route answers besides OPTIONS (the ``Allow`` header of a 405).
    methods: tuple[str, ...] = ("GET",)

    def initialize(self, state: ServerState) -> None:
        self.state = state
        self.cors = False

    def prepare(self) -> None:
        self.request_id = request_id(self.request.headers.get("X-Request-Id"))
        self.set_header("X-Request-Id", self.request_id)
        self.check_host_and_origin()

    def check_host_and_origin(self) -> None:
        """Answer 403 to a Host not served here (DNS rebinding) or a page of another
        origin not listed with --cors-origin; add CORS headers for a listed one."""
        guard, headers = self.state.guard, self.request.headers
        host = headers.get("Host")
        if not guard.host_allowed(host):
            self.write_json_error(403, f"Host '{host[:100]}' is not served here; start the "
                                       "server with --allow-host NAME to serve it")
            return
        origin = headers.get("Origin")
        allowed, self.cors = guard.origin(origin, host, self.request.protocol)
        if not allowed:
            self.write_json_error(403, f"requests from pages of origin '{origin[:100]}' are "
                                       "refused; list it with --cors-origin to allow them")
        elif self.cors:
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Vary", "Origin")
            self.set_header("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")

    def allowed_methods(self) -> list[str]:
        return [*self.methods, "OPTIONS"]

    def options(self, *args: Any) -> None:
        """CORS preflight (the Origin was checked in :meth:`prepare`), else ``Allow``."""
        allowed = ", ".join(self.allowed_methods())
        self.set_header("Allow", allowed)
        if self.cors:
            self.set_header("Access-Control-Allow-Methods", allowed)
            self.set_header("Access-Control-Allow-Headers", CORS_REQUEST_HEADERS)
            self.set_header("Access-Control-Max-Age", "600")
        self.set_status(204)
        self.finish()

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
            message = f"{self.request.method[:20]} is not allowed on {self.request.path}; " \
                      f"use {' or '.join(m for m in self.allowed_methods() if m != 'OPTIONS')}"
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        if not hasattr(self, "request_id"):
            self.request_id = new_request_id()
            self.set_header("X-Request-Id", self.request_id)
        self.write_json_error(status_code, message)


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        super().prepare()
        if self._finished:
            return
        runtime = self.state.runtime
        routes = ", ".join(f"/{r}" for r in runtime.apis) if runtime else "(loading)"
        self.write_json_error(404, f"no route {self.request.path}; APIs: {routes}; "
                                   "see /docs")


class StaticPage(BaseHandler):
    """Pages rendered once per runtime: ``/``, ``/docs``, ``/docs.json``, ``/metadata``."""

    def initialize(self, state: ServerState, attr: str, content_type: str) -> None:
        super().initialize(state)
        self.attr, self.content_type = attr, content_type

    def get(self) -> None:
        if self.state.runtime is None:
            self.set_header("Retry-After", "1")
            self.write_json_error(503, LOADING)
            return
        self.set_header("Content-Type", self.content_type)
        page = getattr(self.state.runtime, self.attr)
        if self.attr == "index":  # the Host was checked in prepare(): it is served here
            origin = f"{self.request.protocol}://{self.request.host}"
            page = page.replace(ORIGIN, html.escape(origin))
        self.finish(page)


class AssetHandler(BaseHandler, tornado.web.StaticFileHandler):
    """Swagger UI's files, behind the same Host/Origin checks as every route."""

    methods = ("GET", "HEAD")

    def initialize(self, state: ServerState, path: str) -> None:  # type: ignore[override]
        BaseHandler.initialize(self, state)
        tornado.web.StaticFileHandler.initialize(self, path)


class StaticContentMatches(tornado.routing.PathMatches):
    """Matches a GET or HEAD of the service's ``@web_static_content`` files: ``/`` when
    the directory has an ``index.html``, any other path that is not an API's route.
    Anything else falls through to the routes after it."""

    def __init__(self, state: ServerState) -> None:
        super().__init__(r"/(.*)")
        self.state = state

    def match(self, request: Any) -> dict[str, Any] | None:
        runtime = self.state.runtime
        if runtime is None or runtime.static_dir is None or \
                request.method not in ("GET", "HEAD"):
            return None
        found = super().match(request)
        if found is None:
            return None
        path = request.path[1:]
        if path in runtime.apis:
            return None
        if path == "" and not (runtime.static_dir / "index.html").is_file():
            return None
        return found


class StaticContentHandler(BaseHandler, tornado.web.StaticFileHandler):
    """The ``@web_static_content`` files of the runtime serving now, rooted at its
    directory: Tornado's checks refuse any path that resolves outside it (403)."""

    methods = ("GET", "HEAD")

    def initialize(self, state: ServerState) -> None:  # type: ignore[override]
        BaseHandler.initialize(self, state)
        runtime = state.runtime
        root = runtime.static_dir if runtime is not None else None
        tornado.web.StaticFileHandler.initialize(self, str(root or "/nonexistent"),
                                                 default_filename="index.html")


class HealthHandler(BaseHandler):
    """``/healthz`` and ``/livez``: the process answers. ``/readyz``: models are loaded
    and the server is not shutting down (load never makes it 503)."""

    def initialize(self, state: ServerState, ready: bool = False) -> None:
        super().initialize(state)
        self.ready = ready

    def get(self) -> None:
        if self.ready and not self.state.ready:
            self.set_header("Retry-After", "1")
            self.write_json_error(503, "shutting down" if self.state.shutting_down
                                  else LOADING)
            return
        self.finish({"status": "ok"})


class MetricsHandler(BaseHandler):
    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(self.state.metrics.render())


def log_access(handler: tornado.web.RequestHandler) -> None:
    """One access-log line per request (Tornado's ``log_function``)."""
    request = handler.request
    access_entry(request.method, request.uri, handler.get_status(),
                 request.request_time() * 1000, request.remote_ip,
                 getattr(handler, "request_id", None))
