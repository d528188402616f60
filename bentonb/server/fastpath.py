"""The common prediction request, answered without Tornado's per-request handler.

A ``POST`` to an API's route, from a served Host, with no ``Origin``, a
``Content-Length`` within the limit, the right API key (when one is set), to an
API that neither streams nor reads a 1.x ``ctx``: for this, most of a prediction
server's traffic, :class:`FastPredict` does what
:class:`~bentonb.server.predict.ApiHandler` does with a fraction of the work. Any
other request goes whole to the full application before its body is read; the
error answers of both come from :mod:`bentonb.server.predict`. It never imports
notebook/ or the CLI.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any

import tornado
import tornado.web
from tornado import httputil

from bentonb.server.guards import api_key_given, request_id
from bentonb.server.logs import access_entry
from bentonb.server.predict import (
    CLIENT_GONE,
    count_items,
    error_answer,
    error_body,
    http_request,
    parse_request,
    parse_threads,
    parses_off_loop,
    timeout_message,
)
from bentonb.server.runtime import ServerState

_SERVER = f"TornadoServer/{tornado.version}"
_date: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The ``Date`` header, formatted once per second."""
    global _date
    now = time.time()
    if int(now) != _date[0]:
        _date = (int(now), httputil.format_timestamp(now))
    return _date[1]


class FastApplication(tornado.web.Application):
    """A Tornado application whose common prediction requests take the fast path."""

    state: ServerState
    #: Requests answered by the fast path so far (the others went to the routes).
    answered_fast = 0

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection
                      ) -> httputil.HTTPMessageDelegate:
        return FastPredict(self, server_conn, request_conn)


class FastPredict(httputil.HTTPMessageDelegate):
    """One request: answered here when it is the common case, else handed on whole to
    the application's own routing (before any of its body is read)."""

    def __init__(self, app: FastApplication, server_conn: object,
                 request_conn: httputil.HTTPConnection) -> None:
        self.app, self.server_conn, self.conn = app, server_conn, request_conn
        self.slow: httputil.HTTPMessageDelegate | None = None
        self.task: asyncio.Task | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.done = False

    # -- which path -------------------------------------------------------------
    def _eligible(self, start_line: httputil.RequestStartLine,
                  headers: httputil.HTTPHeaders) -> bool:
        state = self.app.state
        runtime = state.runtime
        if start_line.method != "POST" or runtime is None or "Origin" in headers:
            return False
        path = start_line.path.partition("?")[0]
        api = runtime.apis.get(path[1:])
        if api is None or getattr(api, "streaming", False) or \
                getattr(api, "context_param", None) is not None:  # a 1.x ``ctx``
            return False
        length = headers.get("Content-Length")
        if length is None or not length.isdigit() or \
                int(length) > state.config.max_request_size:
            return False
        if not state.guard.host_allowed(headers.get("Host")):
            return False
        key = state.config.api_key
        if key and not hmac.compare_digest(api_key_given(headers).encode(), key.encode()):
            return False
        self.api, self.runtime = api, runtime
        self.runner = runtime.runners[api.route]
        return True

    def headers_received(self, start_line: httputil.RequestStartLine,
                         headers: httputil.HTTPHeaders) -> Any:
        if not self._eligible(start_line, headers):
            self.slow = tornado.web.Application.start_request(self.app, self.server_conn,
                                                             self.conn)
            return self.slow.headers_received(start_line, headers)
        self.started = time.perf_counter()
        self.method, self.uri = start_line.method, start_line.path
        self.headers = headers
        self.rid = request_id(headers.get("X-Request-Id"))
        self.chunks: list[bytes] = []
        state = self.app.state
        state.started(self.runtime)
        state.metrics.progress(self.api.name).inc()
        # One timer bounds the body's arrival (instead of Tornado's own body timeout)
        # and then the answer; it is set again only when the body took a while.
        self.timeout = getattr(self.api, "timeout", None) or state.config.timeout
        set_body_timeout = getattr(self.conn, "set_body_timeout", None)
        if set_body_timeout is not None:
            set_body_timeout(None)
        self.timer = asyncio.get_running_loop().call_later(state.config.timeout,
                                                           self._timed_out)
        self.body_in = False
        return None

    def data_received(self, chunk: bytes) -> Any:
        if self.slow is not None:
            return self.slow.data_received(chunk)
        self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        if self.slow is not None:
            self.slow.finish()
            return
        loop = asyncio.get_running_loop()
        self.body_in = True
        self.conn.set_close_callback(self._client_gone)
        if abs(self.timer.when() - loop.time() - self.timeout) > 0.01:
            self.timer.cancel()
            self.timer = loop.call_later(self.timeout, self._timed_out)
        _, _, query = self.uri.partition("?")
        request = http_request(b"".join(self.chunks), self.headers, "POST",
                               httputil.parse_qs_bytes(query, keep_blank_values=True)
                               if query else {}, self.app.state.limits)
        adapter = self.api.input_adapter
        if not hasattr(self.runner, "enqueue"):
            self.task = loop.create_task(self._answer(request))
            return
        # A batch API takes no task: parse (here, or on a parse thread for a heavy
        # body), queue for the batcher, and answer from the callback of the batch's
        # result.
        if parses_off_loop(adapter, request):
            parse_threads().call_soon(self._parse_on_thread, loop, adapter, request)
            return
        try:
            value = adapter.parse_http(request)
            count = count_items(adapter, value)
        except Exception as exc:  # noqa: BLE001 - answered as ApiHandler answers it
            self._fail(exc)
            return
        self._enqueue(value, count)

    def _parse_on_thread(self, loop: asyncio.AbstractEventLoop, adapter: Any,
                         request: Any) -> None:
        """On a parse thread: parse, then hand the value (or the error) to the loop. A
        request answered meanwhile (timed out, its client gone) is not parsed."""
        if self.done:
            return
        try:
            value = adapter.parse_http(request)
            parsed: tuple = (value, count_items(adapter, value), None)
        except BaseException as exc:  # noqa: BLE001 - even SystemExit: the request is answered
            parsed = (None, 0, exc)
        try:
            loop.call_soon_threadsafe(self._parsed, *parsed)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    def _parsed(self, value: Any, count: int, exc: BaseException | None) -> None:
        if self.done:
            return  # the client went away or the request timed out meanwhile
        if exc is not None:
            self._fail(exc)
        else:
            self._enqueue(value, count)

    def _enqueue(self, value: Any, count: int) -> None:
        try:
            self.pending = self.runner.enqueue(value, count, self.rid)
        except Exception as exc:  # noqa: BLE001 - answered as ApiHandler answers it
            self._fail(exc)
            return
        self.pending.future.add_done_callback(self._resolved)

    def on_connection_close(self) -> None:
        if self.slow is not None:
            self.slow.on_connection_close()
        elif not self.done and hasattr(self, "rid"):
            self._client_gone()

    # -- the answer -------------------------------------------------------------
    async def _answer(self, request: Any) -> None:
        try:
            value, count = await parse_request(self.api.input_adapter, request)
            self._respond(await self.runner.submit(value, count, self.rid))
        except Exception as exc:  # noqa: BLE001 - answered as ApiHandler answers it
            self._fail(exc)

    def _resolved(self, future: asyncio.Future) -> None:
        if future.cancelled():
            return  # the client went away or the request timed out: answered there
        exc = future.exception()
        if exc is not None:
            self._fail(exc)
            return
        try:
            self._respond(future.result())
        except Exception as error:  # noqa: BLE001 - the output adapter may fail
            self._fail(error)

    def _respond(self, result: Any) -> None:
        response = self.api.output_adapter.to_http(result)
        self._write(response.status, response.content_type, response.body)

    def _fail(self, exc: BaseException) -> None:
        status, headers, message = error_answer(self.api, exc, self.rid)
        self._write(status, "application/json", error_body(message, self.rid), headers)

    def _cancel(self) -> None:
        """Stop the work of this request: when still queued, the model never sees it."""
        if self.task is not None:
            self.task.cancel()
        pending = getattr(self, "pending", None)
        if pending is not None and pending.future.cancel():
            self.runner.forget(pending)

    def _timed_out(self) -> None:
        self.timer = None
        if self.done:
            return
        if not self.body_in:  # a body trickling in: the connection ends, as Tornado's would
            self._end(408)
            close = getattr(self.conn, "close", None)
            if close is not None:
                close()
            return
        self._cancel()
        self._write(504, "application/json",
                    error_body(timeout_message(self.api, self.timeout), self.rid))

    def _client_gone(self) -> None:
        if self.done:
            return
        self._cancel()
        self._end(CLIENT_GONE)

    def _write(self, status: int, content_type: str, body: bytes,
               extra: dict[str, str] | None = None) -> None:
        if self.done:
            return
        headers = httputil.HTTPHeaders({"Server": _SERVER, "Content-Type": content_type,
                                        "Date": _http_date(), "X-Request-Id": self.rid,
                                        "Content-Length": str(len(body))})
        if extra:
            headers.update(extra)
        reason = httputil.responses.get(status, "Unknown")
        self._end(status)  # counted before the client can read the answer
        self.conn.write_headers(httputil.ResponseStartLine("HTTP/1.1", status, reason),
                                headers, body)
        self.conn.finish()

    def _end(self, status: int) -> None:
        self.done = True
        self.app.answered_fast += 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        state, name = self.app.state, self.api.name
        state.finished(self.runtime)
        state.metrics.progress(name).dec()
        seconds = time.perf_counter() - self.started
        state.metrics.observe(name, status, seconds)
        access_entry(self.method, self.uri, status, seconds * 1000,
                     getattr(getattr(self.conn, "context", None), "remote_ip", None), self.rid)
