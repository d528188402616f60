"""Serve from inside a notebook kernel: a handle on a server running on a daemon thread.

``bentonb.serve(svc)`` (and ``%bento_serve``) returns a :class:`ServingHandle`
at once; the kernel stays free. Serving the same service again swaps the new
version into the running server, on the same port and URL.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from bentonb.adapters.curl import curl_command
from bentonb.errors import BentonbError, InvalidArgument
from bentonb.server.app import MB, ServerConfig, choose_api_key, exposure_warning
from bentonb.server.thread import BackgroundServer
from bentonb.tunnel import Tunnel, colab_proxy_url, open_tunnel

#: Running handles by service name.
RUNNING: dict[str, ServingHandle] = {}
_LOCK = threading.Lock()
_PORT_TRIES = 20


def resolve_service(target: Any) -> Any:
    """A service instance from a service (0.x, a 1.x ``bentonb.Service`` or a
    ``@bentonb.service`` class or instance), a tag or a bundle path."""
    from bentonb.bundle import load
    from bentonb.sdk import ClassService, Service, is_service_class
    from bentonb.service import BentoService

    if isinstance(target, (BentoService, Service)):
        return target
    if is_service_class(target):  # a @bentonb.service class, or an instance of one
        return ClassService(target)
    if isinstance(target, type) and issubclass(target, BentoService):
        raise InvalidArgument(f"{target.__name__} is a class; serve an instance packed with "
                              f"its models, e.g. {target.__name__}().pack(...)")
    if isinstance(target, str):
        return load(target)
    raise InvalidArgument(f"cannot serve {type(target).__name__}: give a packed service, a tag "
                          "like 'IrisClassifier:latest' or a bundle path")


class ServingHandle:
    """A service served from this process: ``.url``, ``.public_url``, ``.stop()``."""

    def __init__(self, service: Any, server: BackgroundServer, tunnel: Tunnel | None,
                 api_key: str | None, notice: str | None = None) -> None:
        self.server, self.tunnel, self.api_key = server, tunnel, api_key
        self.notice = notice
        #: The last body the widget sent to each API (body, Content-Type): what
        #: ``%bento_bench`` loads when no ``--data`` is given.
        self.last_request: dict[str, tuple[bytes, str]] = {}
        self.name = service.name
        self.displayed_in: int | None = None  # the cell whose output shows the widget
        #: Re-running the service's cell (or ``%bento_pack``) swaps it in (``--no-live``: off).
        self.live = True
        #: The last live swap, as the cell printed it (None: none yet).
        self.last_swap: str | None = None
        self._widgets: list[Any] = []
        self._window: Any = None

    @property
    def service(self) -> Any:
        return self.server.service

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def public_url(self) -> str | None:
        if self.tunnel is not None and self.tunnel.public_url:
            return self.tunnel.public_url
        return colab_proxy_url(self.port)

    @property
    def running(self) -> bool:
        return self.server.running

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def curl(self, api: str | None = None) -> str:
        """A curl command that calls ``api`` (the first API by default)."""
        target = (self.service.get_inference_api(api) if api
                  else self.service.inference_apis[0])
        return curl_command(target, self.public_url or self.url, api_key=self.api_key)

    def client(self, public: bool = False, **options: Any) -> Any:
        """A :class:`bentonb.Client` for this server, with its API key (``public``: through
        the public URL); ``options`` go to the client (``timeout``, ``max_retries``)."""
        from bentonb.client import Client

        url = self.public_url if public and self.public_url else self.url
        return Client(url, api_key=self.api_key, **options)

    def swap(self, service: Any) -> None:
        """Serve ``service`` from now on; in-flight requests finish on the old one."""
        self.server.swap(service)

    def request_window(self) -> Any:
        """The last minute of requests this server answered (a
        :class:`~bentonb.notebook.live_panel.RequestWindow`), counted from the first call."""
        from bentonb.notebook.live_panel import attach

        with _LOCK:
            if self._window is None:
                self._window = attach(self.server.state.metrics)
            return self._window

    def announce(self, line: str) -> None:
        """Record a live swap and show ``line`` in every widget of this handle."""
        self.last_swap = line
        for widget in list(self._widgets):
            widget.swapped(line)

    def stop(self) -> None:
        """Stop serving, close the tunnel, free the port."""
        self.server.stop()
        for widget in list(self._widgets):
            widget.stopped()
        if self.tunnel is not None:
            self.tunnel.close()
        with _LOCK:
            if RUNNING.get(self.name) is self:
                del RUNNING[self.name]

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        public = f", public {self.public_url}" if self.public_url else ""
        return f"<ServingHandle {self.service.tag or self.name} at {self.url}{public} ({state})>"

    def summary(self) -> dict[str, Any]:
        return {"service": self.service.tag or self.name, "url": self.url,
                "public_url": self.public_url, "api_key": self.api_key,
                "running": self.running}

    def widget(self) -> Any:
        from bentonb.notebook.widget import ServingWidget

        widget = ServingWidget(self)
        self._widgets.append(widget)
        return widget

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        if shell is not None and self.displayed_in == shell.execution_count:
            print(repr(self))  # %bento_serve already showed the widget in this cell
            return
        display(self.widget())


def serve(target: Any, port: int = 5000, host: str = "127.0.0.1", ngrok: bool = False,
          ngrok_token: str | None = None, api_key: str | None = "auto",
          mb_max_batch_size: int | None = None, mb_max_latency: float | None = None,
          pyngrok_config: Any = None, *, allow_host: str | Sequence[str] = (),
          cors_origin: str | Sequence[str] = (), timeout: float = 60.0,
          max_concurrency: int | None = None, max_queue: int | None = None,
          graceful_timeout: float = 10.0, max_request_size: float = 20,
          max_image_pixels: int | None = None) -> ServingHandle:
    """Serve a packed service, a tag or a bundle path from a background thread.

    Serving a service whose name is already served swaps it in (same port and URL).
    A busy ``port`` moves to the next free one, and the handle's ``notice`` says so.
    The keyword options are ``bentonb serve``'s flags of the same names
    (``max_request_size`` in MB); a bad value raises :class:`InvalidArgument`.
    """
    # The options are checked before anything is loaded: a bad flag fails at once.
    key = choose_api_key(api_key, public=ngrok)
    config = ServerConfig(host=host, port=port, mb_max_batch_size=mb_max_batch_size,
                          mb_max_latency=mb_max_latency, api_key=key,
                          allow_hosts=allow_host, cors_origins=cors_origin, timeout=timeout,
                          max_concurrency=max_concurrency, max_queue=max_queue,
                          graceful_timeout=graceful_timeout,
                          max_request_size=int(max_request_size * MB),
                          max_image_pixels=max_image_pixels)
    service = resolve_service(target)
    with _LOCK:
        current = RUNNING.get(service.name)
    if current is not None and current.running:
        current.swap(service)
        current.notice = f"swapped {service.tag or service.name} into {current.url}"
        return current
    server, notice = _start(service, config)
    warning = exposure_warning(config)
    if warning:
        notice = f"{notice}; {warning}" if notice else warning
    tunnel = None
    if ngrok:
        try:
            tunnel = open_tunnel(server.port, ngrok_token, pyngrok_config)
            server.allow_host(urlsplit(tunnel.public_url).hostname)
        except BentonbError:
            server.stop(timeout=5)
            raise
    handle = ServingHandle(service, server, tunnel, key, notice)
    with _LOCK:
        RUNNING[service.name] = handle
    return handle


def _start(service: Any, config: ServerConfig) -> tuple[BackgroundServer, str | None]:
    first = config.port
    for offset in range(_PORT_TRIES if first else 1):
        config.port = first + offset if first else 0
        try:
            server = BackgroundServer(service, config)
        except BentonbError as exc:
            if "already in use" not in str(exc):
                raise
            continue
        notice = (f"port {first} is in use; serving on port {server.port} instead"
                  if offset else None)
        return server, notice
    raise BentonbError(f"ports {first} to {first + _PORT_TRIES - 1} are all in use; "
                       "pass another port")


def stop(name: str | None = None) -> list[str]:
    """Stop the handle serving ``name``, or every one; return the names stopped."""
    with _LOCK:
        names = [name] if name else list(RUNNING)
    if name and name not in RUNNING:
        running = ", ".join(RUNNING) or "none"
        raise InvalidArgument(f"{name} is not being served (serving: {running})")
    for each in names:
        RUNNING[each].stop()
    return names


atexit.register(lambda: [h.stop() for h in list(RUNNING.values())])
