"""The HTTP server's connections, and how they end when the server stops.

This module owns :class:`DrainingHTTPServer`: a Tornado ``HTTPServer`` that knows
which keep-alive connections are idle (waiting for their next request) and which
are busy (a request received, its answer not yet written), and that closes a
connection waiting longer than ``idle_connection_timeout`` for a request's
headers (one sweep for all connections, where Tornado would arm a timer per
request); and :func:`drain`, the one shutdown sequence of the CLI and the
in-kernel server: stop accepting, close idle connections at once, answer the busy
ones with ``Connection: close``, return as soon as they are done or the grace
period ends. It never imports the handlers, notebook/ or the CLI.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tornado import httputil
from tornado.http1connection import HTTP1Connection, HTTP1ServerConnection
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream


def _close_after_answer(request_conn: HTTP1Connection) -> None:
    # Tornado's own keep-alive decision for this request: when set before the answer's
    # headers are written, they say "Connection: close" and the connection closes once
    # the answer is sent. There is no public setter for an answer already in progress.
    request_conn._disconnect_on_finish = True


class _Watched(httputil.HTTPMessageDelegate):
    """Marks a connection busy from the moment a request's headers arrive."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate, server: DrainingHTTPServer,
                 server_conn: HTTP1ServerConnection, request_conn: HTTP1Connection) -> None:
        self.delegate, self.server = delegate, server
        self.server_conn, self.request_conn = server_conn, request_conn

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Any:
        self.server.busy[self.server_conn] = self.request_conn
        self.server.waiting.pop(self.server_conn, None)
        if self.server.draining:
            _close_after_answer(self.request_conn)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()


def _nodelay_kept(value: bool) -> None:
    """A stream's ``set_nodelay``, once it is on for good (see ``handle_stream``)."""


class DrainingHTTPServer(HTTPServer):
    """An ``HTTPServer`` whose :meth:`drain` ends every connection without losing an
    answer: idle ones close at once, busy ones after their answer."""

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self.busy: dict[HTTP1ServerConnection, HTTP1Connection] = {}
        self.draining = False
        self._done: asyncio.Event | None = None
        # Tornado bounds the wait for each request's headers with a timer of its own
        # (a timeout, a future and a callback per request); :meth:`_sweep` bounds it
        # for every connection at once, by the same limit.
        self.header_timeout: float = self.conn_params.header_timeout or 3600
        self.conn_params.header_timeout = None
        #: Connections waiting for a request's headers, with the time they began to.
        self.waiting: dict[HTTP1ServerConnection, float] = {}
        self._sweep_due: asyncio.TimerHandle | None = None

    def handle_stream(self, stream: IOStream, address: tuple) -> None:
        # Every answer's headers and body leave in one write, so Nagle's algorithm has
        # nothing to gather: TCP_NODELAY stays on, where Tornado would turn it on and off
        # again around each answer (two system calls per request).
        stream.set_nodelay(True)
        stream.set_nodelay = _nodelay_kept  # type: ignore[method-assign]
        super().handle_stream(stream, address)

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection
                      ) -> httputil.HTTPMessageDelegate:
        # Tornado asks for a delegate when a connection waits for its next request:
        # the previous request on it, if any, has been answered.
        self._idle(server_conn)
        now = time.monotonic()
        self.waiting[server_conn] = now
        if self._sweep_due is None:
            self._sweep_at(now + self.header_timeout)
        delegate = super().start_request(server_conn, request_conn)
        return _Watched(delegate, self, server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        super().on_close(server_conn)
        self.waiting.pop(server_conn, None)
        self._idle(server_conn)

    def _sweep_at(self, when: float) -> None:
        self._sweep_due = asyncio.get_running_loop().call_later(
            max(0.0, when - time.monotonic()), self._sweep)

    def _sweep(self) -> None:
        """Close every connection that waited ``header_timeout`` for a request's
        headers (an idle keep-alive, or headers that trickle in); come back when the
        oldest of the others would reach it, and not at all while none waits."""
        self._sweep_due = None
        now = time.monotonic()
        oldest = None
        for server_conn, since in list(self.waiting.items()):
            if now - since >= self.header_timeout:
                del self.waiting[server_conn]
                server_conn.stream.close()
            elif oldest is None or since < oldest:
                oldest = since
        if oldest is not None:
            self._sweep_at(max(oldest + self.header_timeout, now + self.header_timeout / 8))

    def _idle(self, server_conn: Any) -> None:
        self.busy.pop(server_conn, None)
        if self.draining:
            server_conn.stream.close()
            if not self.busy and self._done is not None:
                self._done.set()

    async def drain(self, timeout: float) -> bool:
        """Stop accepting and end every connection; False when requests were still
        being answered after ``timeout`` seconds (their connections are closed)."""
        self.draining = True
        self.stop()
        for server_conn in list(self._connections):
            if server_conn in self.busy:
                _close_after_answer(self.busy[server_conn])
            else:
                server_conn.stream.close()
        self._done = asyncio.Event()
        finished = True
        if self.busy:
            try:
                await asyncio.wait_for(self._done.wait(), timeout)
            except asyncio.TimeoutError:
                finished = False
        await self.close_all_connections()
        return finished


async def drain(app: Any, server: DrainingHTTPServer, timeout: float) -> bool:
    """Shut a server down: readiness goes 503, connections end as
    :meth:`DrainingHTTPServer.drain` says, then the runtime's runners close. False
    when requests were still running after ``timeout`` seconds."""
    app.state.shutting_down = True
    finished = await server.drain(timeout)
    app.state.close()
    return finished
