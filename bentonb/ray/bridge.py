"""One HTTP request of an ASGI server (starlette) answered by bentonb's Tornado application.

This module owns :func:`answer`: it hands a starlette request to the application
that ``bentonb serve`` runs (:func:`bentonb.server.app.make_app`), through
Tornado's documented connection interfaces (``Application.start_request`` and
``httputil.HTTPConnection``), and gives back the response the application wrote.
Every route, status code, header, error body, API-key check, size limit and the
micro-batcher are therefore the server's own code, not a copy of it. It never
imports ray, notebook/ or the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import tornado.web
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from tornado import httputil

# Headers the ASGI server in front writes itself (length, framing, date, name).
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date",
                          "server"})


class _Context:
    """What Tornado reads off a connection: the client's address and the scheme."""

    def __init__(self, remote_ip: str | None, protocol: str) -> None:
        self.remote_ip = remote_ip
        self.protocol = protocol


def _done() -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


class ResponseConnection(httputil.HTTPConnection):
    """The connection a handler writes its response to: headers, then chunks, then
    the end, kept for the ASGI side to send. ``client_gone`` tells the handler that
    its client went away (Tornado's ``on_connection_close``)."""

    def __init__(self, remote_ip: str | None, protocol: str) -> None:
        self.context = _Context(remote_ip, protocol)
        self.start_line: httputil.ResponseStartLine | None = None
        self.headers: httputil.HTTPHeaders | None = None
        self.chunks: list[bytes] = []  # written and not yet taken
        self.finished = False
        self._wake: asyncio.Future | None = None  # resolved by the next write or the end
        self._close_callback: Any = None

    def set_close_callback(self, callback: Any) -> None:
        self._close_callback = callback

    def _written(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def wait(self) -> None:
        """Until something more is written (headers, a chunk, the end)."""
        self._wake = asyncio.get_running_loop().create_future()
        await self._wake

    def write_headers(self, start_line: Any, headers: httputil.HTTPHeaders,
                      chunk: bytes | None = None) -> asyncio.Future:
        self.start_line, self.headers = start_line, headers
        if chunk:
            self.chunks.append(chunk)
        self._written()
        return _done()

    def write(self, chunk: bytes) -> asyncio.Future:
        if chunk:
            self.chunks.append(chunk)
            self._written()
        return _done()

    def finish(self) -> None:
        self.finished = True
        self._written()

    def client_gone(self) -> None:
        """Run the handler's close callback once: queued work is dropped."""
        callback, self._close_callback = self._close_callback, None
        if callback is not None and not self.finished:
            callback()


def _request_line(request: Request) -> httputil.RequestStartLine:
    """The request line as the application routes it: the path below the route
    prefix the ASGI server mounted this application at, with the query."""
    path, root = request.scope.get("path", "/"), request.scope.get("root_path", "")
    if root and root != "/" and path.startswith(root):
        path = path[len(root):]
    if not path.startswith("/"):
        path = "/" + path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return httputil.RequestStartLine(request.method, path + (f"?{query}" if query else ""),
                                     "HTTP/1.1")


def _response_headers(conn: ResponseConnection, request: Request) -> list[tuple[str, str]]:
    # Ray Serve's proxy adds the request's own X-Request-Id to every response; the
    # application echoes the same id, which would otherwise appear twice.
    given = request.headers.get("x-request-id")
    return [(name, value) for name, value in conn.headers.get_all()
            if name.lower() not in _HOP_HEADERS
            and not (name.lower() == "x-request-id" and value == given)]


async def _stream(conn: ResponseConnection) -> AsyncIterator[bytes]:
    try:
        while True:
            chunks, conn.chunks = conn.chunks, []
            for chunk in chunks:
                yield chunk
            if not conn.chunks:  # nothing written while those were sent
                if conn.finished:
                    return
                await conn.wait()
    except asyncio.CancelledError:
        conn.client_gone()
        raise


async def answer(app: tornado.web.Application, request: Request) -> Response:
    """Answer ``request`` with ``app`` exactly as ``bentonb serve`` would: the same
    status, headers (less the ones the ASGI server writes) and body. A response the
    application writes in parts (a streaming API) is streamed as it is written; a
    request cancelled because its client went away reaches the handler as a closed
    connection."""
    client = request.client
    conn = ResponseConnection(client.host if client else None,
                              request.scope.get("scheme", "http"))
    headers = httputil.HTTPHeaders()
    for name, value in request.headers.raw:
        headers.add(name.decode("latin-1"), value.decode("latin-1"))
    delegate = app.start_request(None, conn)
    try:
        waiting = delegate.headers_received(_request_line(request), headers)
        if waiting is not None:
            await waiting
        # As Tornado's HTTP/1 connection does: stop reading once the handler answered
        # (401, 413), and tell it the body ended only if it still waits for one.
        async for chunk in request.stream():
            if conn.finished:
                break
            if chunk:
                waiting = delegate.data_received(chunk)
                if waiting is not None:
                    await waiting
        if not conn.finished:
            delegate.finish()
        while conn.start_line is None and not conn.finished:
            await conn.wait()
    except asyncio.CancelledError:
        conn.client_gone()
        raise
    status = conn.start_line.code
    if not conn.finished:
        response: Response = StreamingResponse(_stream(conn), status_code=status)
    else:
        response = Response(b"".join(conn.chunks), status_code=status)
    response.raw_headers.extend((name.lower().encode("latin-1"), value.encode("latin-1"))
                                for name, value in _response_headers(conn, request))
    return response
