"""Run the server as a process: sockets, worker processes, signals, graceful shutdown."""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bentonb.errors import BentonbError
from bentonb.server.app import MB, ServerConfig, make_app
from bentonb.server.logs import SERVER, configure_logging, stop_logging

#: How long in-flight requests may take to finish after SIGTERM.
DRAIN_SECONDS = 30.0


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


async def drain(app: Any, server: HTTPServer, timeout: float) -> bool:
    """Stop accepting, wait for the requests in flight (up to ``timeout``), close the
    connections, and retire the runtime; False when requests were still running."""
    app.state.shutting_down = True
    server.stop()
    drained = await app.state.wait_idle(timeout)
    await server.close_all_connections()
    app.state.runtime.retire()
    return drained


def make_http_server(app: Any, config: ServerConfig) -> HTTPServer:
    # Tornado's own limit is a backstop: handlers answer 413 themselves from the headers.
    return HTTPServer(app, max_body_size=config.max_request_size + MB,
                      idle_connection_timeout=75)


async def serve_sockets(service: Any, sockets: list[socket.socket], config: ServerConfig,
                        on_ready: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting, drain, and return."""
    app = make_app(service, config)
    server = make_http_server(app, config)
    server.add_sockets(sockets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if on_ready:
        on_ready()
    await stop.wait()
    SERVER.info("shutting down: finishing %d request(s) in flight", app.state.in_flight)
    if not await drain(app, server, DRAIN_SECONDS):
        SERVER.warning("gave up waiting for %d request(s)", app.state.in_flight)


def run_server(load_service: Callable[[], Any], config: ServerConfig, workers: int = 1,
               on_ready: Callable[[Any], None] | None = None) -> int:
    """Serve in this process, or in ``workers`` forked processes sharing one port.

    ``load_service`` runs in each serving process (after the fork), so every
    worker has its own models and its own batcher. Port 0 asks the OS for a free
    port; ``config.port`` is the bound port before ``on_ready`` runs, so the startup
    line names the real URL.
    """
    sockets = listen(config.host, config.port)
    config.port = sockets[0].getsockname()[1]
    if workers <= 1:
        service = load_service()
        ready = functools.partial(on_ready, service) if on_ready else None
        asyncio.run(serve_sockets(service, sockets, config, ready))
        return 0
    return _prefork(load_service, sockets, config, workers, on_ready)


def _prefork(load_service: Callable[[], Any], sockets: list[socket.socket],
             config: ServerConfig, workers: int, on_ready: Callable[[Any], None] | None) -> int:
    children: list[int] = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                configure_logging(config.log_format)  # the writer thread did not fork
                service = load_service()
                ready = functools.partial(on_ready, service) if on_ready and index == 0 \
                    else None
                asyncio.run(serve_sockets(service, sockets, config, ready))
            except BaseException as exc:  # noqa: BLE001 - a child must never return
                print(f"worker {index} failed: {exc}", file=sys.stderr)
                code = 1
            finally:
                stop_logging()
                os._exit(code)
        children.append(pid)

    forwarded: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        forwarded.append(signum)
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    failed = 0
    for child in children:
        while True:
            try:
                _, status = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(status)
        # A worker stopped by the signal we forwarded, before it could handle it, is fine.
        failed += code != 0 and -code not in forwarded
    return 1 if failed else 0
