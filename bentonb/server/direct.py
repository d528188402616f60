"""Non-batch APIs: one model call per request, with bounded concurrency and a bounded queue.

This module owns :class:`DirectRunner` (what a request of a non-batch API waits
in), :class:`LoopRunner` (a 1.x async API function, awaited on the event loop)
and :class:`ModelThreads` (the daemon threads every model call runs on, for
batch APIs too). It knows nothing of HTTP: it never imports tornado, the
handlers, notebook/ or the CLI.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from bentonb.errors import Overloaded
from bentonb.server.logs import SERVER, log_call

#: What a runner reports to metrics: (event, value).
MetricsHook = Callable[[str, float], None]


class ModelThreads(Executor):
    """``count`` daemon threads running model calls in submission order.

    Daemon threads, so a model call still running once the server has given up
    waiting for it (``--graceful-timeout``) never keeps the process alive.
    """

    def __init__(self, count: int, name: str) -> None:
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, daemon=True, name=f"{name}-{i}")
                         for i in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._closed:
            raise RuntimeError("model threads are shut down")
        future: Future = Future()
        self._work.put((future, fn, args, kwargs))
        return future

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a thread, with no future: ``fn`` reports its own
        outcome (what it lets escape is logged, and the thread goes on)."""
        if self._closed:
            raise RuntimeError("model threads are shut down")
        self._work.put((None, fn, args, {}))

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            future, fn, args, kwargs = item
            if future is None:
                try:
                    fn(*args)
                except BaseException:  # noqa: BLE001 - the thread serves the next call
                    SERVER.exception("%s raised on a model thread", getattr(fn, "__name__", fn))
                continue
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        if cancel_futures:
            while True:
                try:
                    item = self._work.get_nowait()
                except queue.Empty:
                    break
                if item is not None and item[0] is not None:
                    item[0].cancel()
        for _ in self._threads:
            self._work.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class _Call:
    """One request of a non-batch API, from its admission to its answer. ``dropped`` is
    set on the loop when the caller goes away; a model thread reads it before the call."""

    __slots__ = ("answer", "value", "request_id", "count", "dropped")

    def __init__(self, answer: asyncio.Future, value: Any, request_id: str | None,
                 count: int) -> None:
        self.answer, self.value, self.request_id, self.count = answer, value, request_id, count
        self.dropped = False


class DirectRunner:
    """Runs each request of one API as its own call, ``max_concurrency`` at a time.

    Requests beyond that wait, at most ``max_queue`` of them; one more, or one whose
    wait is estimated longer than ``max_wait`` seconds (it could not be answered in
    time anyway), makes :meth:`submit` raise :class:`Overloaded` at once. An admitted
    request goes straight to the FIFO its worker threads take calls from, so a
    thread that finishes a call starts the next one itself, however busy the event
    loop is with other connections. A waiting request whose caller is cancelled (the
    client went away, the request timed out) is skipped, never run. A place is freed
    only when its call returns, so a call that outlives its request still counts
    against ``max_concurrency``.
    """

    def __init__(self, run_batch: Callable[[list[Any]], list[Any]], *, name: str,
                 max_concurrency: int = 1, max_queue: int | None = None,
                 max_wait: float | None = None, metrics: MetricsHook | None = None) -> None:
        self.name = name
        self.max_concurrency = max_concurrency
        self.max_queue = 16 * max_concurrency if max_queue is None else max_queue
        self.max_wait = max_wait
        self._run_batch = run_batch
        self._metrics = metrics or (lambda event, value: None)
        self._threads = ModelThreads(max_concurrency, f"bentonb-{name}")
        self._admitted = 0  # running or waiting; changed on the loop's thread only
        self._seconds: float | None = None  # moving average of one call

    @property
    def queued_items(self) -> int:
        return max(0, self._admitted - self.max_concurrency)

    def estimated_wait(self) -> float:
        """Seconds until a request submitted now would be answered."""
        if self._seconds is None:
            return 0.0
        return self._seconds * (self._admitted // self.max_concurrency + 1)

    async def submit(self, value: Any, count: int, request_id: str | None = None) -> Any:
        """Run one request and return its result (or raise what the function raised)."""
        if self._admitted >= self.max_concurrency:
            self._check_room()
        loop = asyncio.get_running_loop()
        call = _Call(loop.create_future(), value, request_id, count)
        self._admitted += 1
        self._metrics("queue", self.queued_items)
        self._threads.call_soon(self._call, loop, call)
        try:
            ok, result = await call.answer
        except asyncio.CancelledError:
            call.dropped = True  # still waiting: never run; running: runs to its end
            raise
        self._metrics("batch", count)
        if not ok:
            raise result
        return result

    async def run_on_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on this API's worker threads (one step of a streaming
        API's generator), outside the places that :meth:`submit` counts."""
        return await asyncio.wrap_future(self._threads.submit(fn, *args))

    def _check_room(self) -> None:
        waiting = self.queued_items
        if waiting >= self.max_queue:
            self._refuse(f"API '{self.name}' has {waiting} requests waiting, "
                         f"the most it queues (--max-queue); retry later")
        wait = self.estimated_wait()
        if self.max_wait is not None and wait > self.max_wait:
            self._refuse(f"API '{self.name}' cannot answer within {self.max_wait:g} s "
                         f"(about {wait:.1f} s of work is queued); retry later")

    def _refuse(self, message: str) -> None:
        self._metrics("rejected", 1)
        raise Overloaded(message, retry_after=max(1.0, math.ceil(self.estimated_wait())))

    def _call(self, loop: asyncio.AbstractEventLoop, call: _Call) -> None:
        """On a worker thread: run the call (unless its caller has gone), then hand the
        outcome back to the loop in one callback."""
        outcome: tuple[bool, Any] | None = None
        seconds: float | None = None
        if not call.dropped:
            start = time.perf_counter()
            try:
                outcome = (True, self._run_batch([call.value])[0])
            except Exception as exc:  # noqa: BLE001 - reported to the request
                outcome = (False, exc)
            seconds = time.perf_counter() - start
            log_call(self.name, [call.request_id], call.count, seconds, [outcome])
        try:
            loop.call_soon_threadsafe(self._done, call, outcome, seconds)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    def _done(self, call: _Call, outcome: tuple[bool, Any] | None,
              seconds: float | None) -> None:
        self._admitted -= 1
        self._metrics("queue", self.queued_items)
        if seconds is not None:
            self._seconds = seconds if self._seconds is None else \
                0.8 * self._seconds + 0.2 * seconds
        if outcome is not None and not call.answer.done():
            call.answer.set_result(outcome)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


class LoopRunner:
    """Awaits a 1.x async API function on the event loop, one task per request.

    The function's ``await runner.<method>.async_run(x)`` joins the runner's
    micro-batcher directly, so no thread sits between the request and the batch.
    No slots or queue: the function itself waits on the batcher, which sheds load.
    """

    queued_items = 0

    def __init__(self, run: Callable[[Any], Any], *, name: str,
                 metrics: MetricsHook | None = None) -> None:
        self.name = name
        self._run = run
        self._metrics = metrics or (lambda event, value: None)

    async def submit(self, value: Any, count: int, request_id: str | None = None) -> Any:
        start = time.perf_counter()
        try:
            result = await self._run(value)
        except Exception as exc:
            log_call(self.name, [request_id], count, time.perf_counter() - start,
                     [(False, exc)])
            raise
        log_call(self.name, [request_id], count, time.perf_counter() - start, [(True, None)])
        self._metrics("batch", count)
        return result

    def close(self) -> None:
        pass
