"""The application factory and the server's configuration.

This module owns :class:`ServerConfig` (every knob of a server, with the CLI's
defaults, checked once when built), the API key rule, the warning for a public
server without a key, and :func:`make_app`, which routes URLs to the handlers
of :mod:`bentonb.server.handlers` and :mod:`bentonb.server.predict` over a
:class:`~bentonb.server.runtime.ServerState`. The CLI (``bentonb serve``) and the
in-kernel server both build their server here. It never imports notebook/ or the
CLI.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
from dataclasses import dataclass
from typing import Any

import tornado.routing
import tornado.web

from bentonb.errors import InvalidArgument
from bentonb.server.fastpath import FastApplication
from bentonb.server.guards import host_pattern, origin_pattern, patterns
from bentonb.server.handlers import (
    AssetHandler,
    HealthHandler,
    MetricsHandler,
    NotFoundHandler,
    StaticContentHandler,
    StaticContentMatches,
    StaticPage,
    log_access,
)
from bentonb.server.predict import MB, ApiHandler
from bentonb.server.runtime import ServerState

__all__ = ["MB", "ServerConfig", "choose_api_key", "exposure_warning", "make_app"]


def _number(name: str, value: Any, kind: type, low: float, low_open: bool = False) -> Any:
    """``value`` as ``kind`` when it is at least (or above) ``low``, else a one-line error."""
    try:
        number = kind(value)
        ok = (number > low if low_open else number >= low) and math.isfinite(number) and \
            (kind is not int or number == value)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        bound = f"above {low:g}" if low_open else f"at least {low:g}"
        raise InvalidArgument(f"{name} must be {'a whole number' if kind is int else 'a number'}"
                              f" {bound}; got {value!r}")
    return number


@dataclass
class ServerConfig:
    """How a server runs; every field has the CLI's default. Checked when built:
    a bad value raises :class:`InvalidArgument` naming the field."""

    host: str = "127.0.0.1"
    port: int = 5000
    enable_microbatch: bool = True
    mb_max_batch_size: int | None = None
    mb_max_latency: float | None = None
    max_request_size: int = 20 * MB
    api_key: str | None = None
    log_format: str = "text"
    #: Calls of one non-batch API running at once (its worker threads); None: 1.
    max_concurrency: int | None = None
    #: Requests of one non-batch API waiting for a worker; None: 16 per worker.
    max_queue: int | None = None
    #: Seconds from a request's body being in to its answer, else 504; also the
    #: longest a body may take to arrive.
    timeout: float = 60.0
    #: Seconds that requests in flight may take to finish after SIGTERM.
    graceful_timeout: float = 10.0
    #: Host headers served besides loopback names and the bound address.
    allow_hosts: tuple[str, ...] = ()
    #: Origins of browser pages allowed to call (answered with CORS headers).
    cors_origins: tuple[str, ...] = ()
    #: Largest image (width x height) the image adapters decode; None: their default.
    max_image_pixels: int | None = None

    def __post_init__(self) -> None:
        self.allow_hosts = patterns(self.allow_hosts, host_pattern)
        self.cors_origins = patterns(self.cors_origins, origin_pattern)
        self.port = _number("port", self.port, int, 0)
        self.max_request_size = _number("max_request_size", self.max_request_size, int, 0,
                                        low_open=True)
        self.timeout = _number("timeout", self.timeout, float, 0, low_open=True)
        self.graceful_timeout = _number("graceful_timeout", self.graceful_timeout, float, 0)
        for name in ("max_concurrency", "mb_max_batch_size", "max_image_pixels"):
            if getattr(self, name) is not None:
                setattr(self, name, _number(name, getattr(self, name), int, 1))
        if self.max_queue is not None:
            self.max_queue = _number("max_queue", self.max_queue, int, 0)
        if self.mb_max_latency is not None:
            self.mb_max_latency = _number("mb_max_latency", self.mb_max_latency, float, 0,
                                          low_open=True)


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


def is_loopback(host: str) -> bool:
    """True when binding to ``host`` keeps the server on this machine."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(config: ServerConfig) -> str | None:
    """The warning for a server listening beyond this machine without an API key."""
    if config.api_key or is_loopback(config.host):
        return None
    return (f"warning: listening on {config.host}:{config.port} without an API key: anyone "
            "who can reach this machine can call every API; set $BENTONB_API_KEY, "
            "--api-key-file or --api-key auto")


def make_app(service: Any, config: ServerConfig | None = None) -> tornado.web.Application:
    """Build the Tornado application serving ``service``; its state is ``app.state``.

    ``service`` may be None while models load: the server answers health checks,
    and 503 with ``Retry-After`` on ``/readyz`` and the APIs, until
    ``app.state.swap(service)`` installs one.
    """
    import swagger_ui_bundle

    state = ServerState(service, config or ServerConfig())
    s = {"state": state}
    html, js = "text/html; charset=utf-8", "application/json"
    app = FastApplication([
        (r"/docs/?", StaticPage, {**s, "attr": "docs", "content_type": html}),
        (r"/docs\.json", StaticPage, {**s, "attr": "openapi", "content_type": js}),
        (r"/metadata", StaticPage, {**s, "attr": "metadata", "content_type": js}),
        (r"/docs/static/(.*)", AssetHandler, {**s, "path": swagger_ui_bundle.swagger_ui_path}),
        (r"/(?:healthz|livez)", HealthHandler, s),
        (r"/readyz", HealthHandler, {**s, "ready": True}),
        (r"/metrics", MetricsHandler, s),
        # After the server's own routes, before the default page and the APIs.
        tornado.routing.Rule(StaticContentMatches(state), StaticContentHandler, s),
        (r"/", StaticPage, {**s, "attr": "index", "content_type": html}),
        (r"/(.+)", ApiHandler, s),
    ], default_handler_class=NotFoundHandler, default_handler_args=s,
        log_function=log_access, compress_response=False)
    app.state = state
    return app
