"""Run the server as a process: sockets, loading, signals, graceful shutdown.

This module owns what ``bentonb serve`` runs in a serving process: it binds the
sockets, answers at once (``/readyz`` 503) while the service loads on a
background thread, serves until SIGTERM/SIGINT, then drains within
``graceful_timeout``. Worker processes (``--workers N``) are started and
replaced by :mod:`bentonb.server.workers`. It never imports notebook/ or the CLI.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from tornado.netutil import bind_sockets

from bentonb.errors import BentonbError
from bentonb.server.app import MB, ServerConfig, make_app
from bentonb.server.connections import DrainingHTTPServer, drain
from bentonb.server.logs import SERVER


def listen(host: str, port: int) -> list[socket.socket]:
    """Bind the listening sockets, or say clearly why not."""
    try:
        return bind_sockets(port, host, reuse_port=False)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise BentonbError(f"port {port} on {host} is already in use; stop what holds it "
                               "or pick another with --port") from None
        raise BentonbError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def local_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server bound to ``host``."""
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '', '::') else host}:{port}"


def make_http_server(app: Any, config: ServerConfig) -> DrainingHTTPServer:
    # Tornado's own limit is a backstop: handlers answer 413 themselves from the headers.
    # A body that trickles in slower than --timeout holds no connection longer than that.
    return DrainingHTTPServer(app, max_body_size=config.max_request_size + MB,
                              idle_connection_timeout=75, body_timeout=config.timeout)


def _load(load_service: Callable[[], Any], loop: asyncio.AbstractEventLoop,
          loaded: asyncio.Future) -> None:
    def settle(ok: bool, value: Any) -> None:
        if not loaded.done():
            loaded.set_result(value) if ok else loaded.set_exception(value)

    try:
        service = load_service()
    except BaseException as exc:  # noqa: BLE001 - handed to the serving loop
        loop.call_soon_threadsafe(settle, False, exc)
    else:
        loop.call_soon_threadsafe(settle, True, service)


def _swap(app: Any, service: Any) -> None:
    try:
        app.state.swap(service)
    except Exception as exc:  # noqa: BLE001 - the previous service keeps serving
        SERVER.error("could not serve %s: %s: %s; still serving the previous version",
                     getattr(service, "name", service), type(exc).__name__, exc)


async def serve_sockets(load_service: Callable[[], Any], sockets: list[socket.socket],
                        config: ServerConfig,
                        on_ready: Callable[[Any], None] | None = None,
                        on_serving: Callable[[Callable[[Any], None]], None] | None = None
                        ) -> bool:
    """Serve until SIGTERM or SIGINT, then drain; True when every request in flight
    was answered within ``config.graceful_timeout``. The service loads on a daemon
    thread while the server already answers (503 on ``/readyz`` and the APIs).
    ``on_serving`` gets, once the service is served, a ``swap(service)`` that any
    thread may call to serve another service on the same port."""
    app = make_app(None, config)
    server = make_http_server(app, config)
    server.add_sockets(sockets)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loaded = loop.create_future()
    threading.Thread(target=_load, args=(load_service, loop, loaded), daemon=True,
                     name="bentonb-load").start()
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({loaded, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if loaded.done() and not stopping.done():
        if loaded.exception() is not None:
            stopping.cancel()
            await drain(app, server, 0)
            raise loaded.exception()
        app.state.swap(loaded.result())
        if on_ready:
            on_ready(loaded.result())
        if on_serving:
            on_serving(lambda service: loop.call_soon_threadsafe(_swap, app, service))
        await stopping
    # From here on a repeated SIGTERM/SIGINT (a second Ctrl-C, a supervisor signalling
    # again) must not kill the process mid-drain or mid-cleanup: the stop is under way.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
        signal.signal(sig, signal.SIG_IGN)
    SERVER.info("shutting down: finishing %d request(s) in flight", app.state.in_flight)
    finished = await drain(app, server, config.graceful_timeout)
    if not finished:
        SERVER.warning("gave up waiting for %d request(s) after %g s (--graceful-timeout)",
                       app.state.in_flight, config.graceful_timeout)
    return finished


def run_server(load_service: Callable[[], Any], config: ServerConfig, workers: int = 1,
               on_ready: Callable[[Any], None] | None = None,
               on_listening: Callable[[], None] | None = None,
               on_serving: Callable[[Callable[[Any], None]], None] | None = None) -> int:
    """Serve in this process, or in ``workers`` forked processes sharing one port;
    return the exit code.

    ``load_service`` runs in each serving process (after the fork), so every
    worker has its own models and its own batcher. Port 0 asks the OS for a free
    port; ``config.port`` is the bound port before ``on_ready`` runs, so the startup
    line names the real URL. ``on_listening`` runs once the port is bound, before any
    model loads (health checks are answered from then on). ``on_serving`` (one worker
    only) gets the ``swap`` of :func:`serve_sockets`.
    """
    sockets = listen(config.host, config.port)
    config.port = sockets[0].getsockname()[1]
    if on_listening is not None:
        on_listening()
    if workers <= 1:
        # A model call that outlives the grace period runs on a daemon thread: it does
        # not hold the exit.
        asyncio.run(serve_sockets(load_service, sockets, config, on_ready, on_serving))
        return 0
    if on_serving is not None:
        raise BentonbError("swapping the served service needs a single worker")
    from bentonb.server.workers import prefork

    return prefork(functools.partial(serve_sockets, load_service, sockets, config),
                   config, workers, on_ready)
