"""The prediction route: ``POST /<route>`` (and ``GET`` for query-reading inputs).

This module owns :class:`ApiHandler`: it streams the body under the size limit,
checks the API key, parses off the event loop when the body is large or the
adapter's parse is heavy, hands the value to the API's runner, bounds the whole
by ``--timeout`` (504), drops the work of a client that went away (499 in the
logs, never seen by the model when still queued), and writes the answer. It never
imports notebook/ or the CLI.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import tornado.web

from bentonb.adapters.base import HttpRequest, RequestLimits
from bentonb.errors import BadInput, BentonbError, Overloaded
from bentonb.server.direct import ModelThreads
from bentonb.server.guards import api_key_given
from bentonb.server.handlers import LOADING, BaseHandler
from bentonb.server.logs import PREDICTION
from bentonb.server.streaming import write_stream

MB = 1024 * 1024
#: Bodies above this size are parsed off the event loop (heavy adapters' always are).
PARSE_OFF_LOOP_BYTES = 256 * 1024
#: The status logged for a request whose client closed the connection first.
CLIENT_GONE = 499


def error_body(message: str, rid: str) -> bytes:
    """The JSON body of every error answer."""
    return json.dumps({"error": message, "request_id": rid}).encode()


def timeout_message(api: Any, timeout: float) -> str:
    return f"API '{api.name}' did not answer within {timeout:g} s (its timeout)"


def error_answer(api: Any, exc: BaseException, rid: str) -> tuple[int, dict[str, str], str]:
    """How a prediction that raised ``exc`` is answered: status, extra headers and the
    error message. A server-side failure (5xx) is logged with its traceback, once."""
    if isinstance(exc, Overloaded):
        return 503, {"Retry-After": str(int(exc.retry_after))}, str(exc)
    if isinstance(exc, BentonbError) and exc.status_code < 500:
        return exc.status_code, {}, str(exc)
    if not getattr(exc, "__bentonb_logged__", False):
        PREDICTION.error("%s failed for request %s", api.name, rid, exc_info=exc,
                         extra={"api": api.name, "request_id": rid})
    if isinstance(exc, BentonbError):
        return exc.status_code, {}, f"API '{api.name}' failed: {exc}"
    return 500, {}, (f"API '{api.name}' raised {type(exc).__name__}; see the server log for "
                     f"request {rid}")


def count_items(adapter: Any, value: Any) -> int:
    """How many items a parsed request holds (none: 400)."""
    count = adapter.count(value)
    if count == 0:
        raise BadInput("request holds no input items")
    return count


def parses_off_loop(adapter: Any, request: HttpRequest) -> bool:
    """Heavy adapters (images) and large bodies are parsed on a thread."""
    return adapter.heavy_parse or len(request.body) > PARSE_OFF_LOOP_BYTES


#: The process's parse threads (see :func:`parse_threads`), and the lock that starts them.
_parsers: ModelThreads | None = None
_parsers_lock = threading.Lock()
#: How many parse threads at most, whatever the machine's size.
MAX_PARSE_THREADS = 8


def parse_threads() -> ModelThreads:
    """The threads that parse heavy bodies (decode images) off the loop: one per CPU
    this process may run on, at least 2 (a large body does not hold up every image)
    and at most MAX_PARSE_THREADS; shared by every API and server of the process,
    started on first use (in a forked child, afresh: threads do not fork)."""
    global _parsers
    if _parsers is None:
        with _parsers_lock:
            if _parsers is None:
                cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
                    else os.cpu_count() or 1
                _parsers = ModelThreads(max(2, min(MAX_PARSE_THREADS, cpus)), "bentonb-parse")
    return _parsers


def _forget_parse_threads() -> None:
    global _parsers, _parsers_lock
    _parsers, _parsers_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parse_threads)


async def parse_request(adapter: Any, request: HttpRequest) -> tuple[Any, int]:
    """A request's value and item count, parsed off the loop when :func:`parses_off_loop`."""
    if parses_off_loop(adapter, request):
        value = await asyncio.get_running_loop().run_in_executor(parse_threads(),
                                                                 adapter.parse_http, request)
    else:
        value = adapter.parse_http(request)
    return value, count_items(adapter, value)


def http_request(body: bytes, headers: Mapping[str, str], method: str,
                 query: Mapping[str, list], limits: RequestLimits) -> HttpRequest:
    """The adapters' view of a request, with the server's request limits."""
    return HttpRequest(body, headers, method, query, limits=limits)


@tornado.web.stream_request_body
class ApiHandler(BaseHandler):
    """``POST /<route>`` (and ``GET`` for JSON and string inputs) of every API."""

    def allowed_methods(self) -> list[str]:
        api = getattr(self, "api", None)
        if api is None and self.state.runtime is not None:  # a 405 before prepare()
            api = self.state.runtime.apis.get(self.request.path[1:])
        query = api is not None and api.input_adapter.accepts_query
        return ["GET", "POST", "OPTIONS"] if query else ["POST", "OPTIONS"]

    async def prepare(self) -> None:
        self.api = None
        self._work: asyncio.Future | None = None
        self._gone = False
        self._chunks: list[bytes] = []
        self._size = 0
        self._started = time.perf_counter()
        if self.state.runtime is not None:
            self.api = self.state.runtime.apis.get(self.path_args[0])
        super().prepare()
        if self._finished or self.request.method == "OPTIONS":
            return
        # While models load, a request waits for them (its body is not read meanwhile).
        if self.state.runtime is None:
            await self.state.wait_loaded(self.state.config.timeout)
        if self.state.runtime is None:
            self.set_header("Retry-After", "1")
            self.write_json_error(503, LOADING)
            return
        runtime = self.state.runtime
        self.api = runtime.apis.get(self.path_args[0])
        if self.api is None:
            routes = ", ".join(f"/{r}" for r in runtime.apis)
            self.write_json_error(404, f"no API at {self.request.path}; APIs: {routes}")
            return
        self.runtime = runtime
        self.runner = runtime.runners[self.api.route]
        # Counted from here, not from when the body is in: a swap must not close this
        # runtime while the body is still arriving.
        self.state.started(runtime)
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
        self._gone = True
        work = getattr(self, "_work", None)  # None before prepare() (an early 405)
        if work is not None:
            work.cancel()  # queued work is dropped before the model sees it
        self._uncount()

    def _uncount(self) -> None:
        if getattr(self, "_counted", False):
            self._counted = False
            self.state.finished(self.runtime)

    def _authorized(self) -> bool:
        given = api_key_given(self.request.headers)
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
        await self._answer(http_request(b"".join(self._chunks), self.request.headers, "POST",
                                        self.request.query_arguments, self.state.limits))

    async def get(self, route: str) -> None:
        if not self.api.input_adapter.accepts_query:
            raise tornado.web.HTTPError(405, f"/{route} takes POST requests with a "
                                             f"{self.api.input_adapter.type_name} body")
        query = {k: [v.decode("utf-8", "replace") for v in vs]
                 for k, vs in self.request.query_arguments.items()}
        await self._answer(http_request(b"", self.request.headers, "GET", query,
                                        self.state.limits))

    async def _predict(self, request: HttpRequest) -> Any:
        value, count = await parse_request(self.api.input_adapter, request)
        # A 1.x API whose function takes a ``ctx`` sees the request and sets the response.
        new_context = getattr(self.api, "new_context", None)
        if new_context is not None:
            self._ctx = new_context(request.method, self.request.headers,
                                    self.request.query_arguments, self.request.path)
            value = self.api.with_context(value, self._ctx)
        return await self.runner.submit(value, count, self.request_id)

    def _apply_context(self, status: int) -> int:
        """The status, headers and cookies an API function set on ``ctx.response``."""
        response = getattr(getattr(self, "_ctx", None), "response", None)
        if response is None:
            return status
        for name, value in response.headers.items():
            self.set_header(name, value)
        for c in response.cookies:
            self.set_cookie(c.key, c.value, path=c.path, httponly=c.httponly,
                            secure=c.secure, **({"max_age": c.max_age} if c.max_age else {}))
        code = response.status_code
        return code if isinstance(code, int) and 100 <= code <= 599 else status

    async def _answer(self, request: HttpRequest) -> None:
        api, metrics = self.api, self.state.metrics
        # An API's own bound (1.x ``traffic={"timeout": s}``) wins over --timeout.
        timeout = getattr(api, "timeout", None) or self.state.config.timeout
        status = CLIENT_GONE
        metrics.progress(api.name).inc()
        work = self._work = asyncio.ensure_future(self._predict(request))
        try:
            if self._gone:
                work.cancel()
            await asyncio.wait({work}, timeout=timeout)
            if not work.done():
                work.cancel()
                status = 504
                self.write_json_error(504, timeout_message(api, timeout))
            elif work.cancelled():
                self.set_status(CLIENT_GONE)  # nobody to answer; the access log says so
            elif getattr(api, "streaming", False):
                status = await write_stream(self, api, work.result(),
                                            self.runner.run_on_thread, self._apply_context)
            else:
                response = api.output_adapter.to_http(work.result())
                status = self._apply_context(response.status)
                self.set_status(status)
                self.set_header("Content-Type", response.content_type)
                self.finish(response.body)
        except Exception as exc:  # noqa: BLE001 - the user's function may raise anything
            status, headers, message = error_answer(api, exc, self.request_id)
            for name, value in headers.items():
                self.set_header(name, value)
            self.write_json_error(status, message)
        finally:
            metrics.progress(api.name).dec()
            metrics.observe(api.name, status, time.perf_counter() - self._started)
