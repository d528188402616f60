"""What a server lends a 1.x service: micro-batching for its runners' batchable
methods, and its event loop for async API functions.

A service that has ``bind_host`` (the 1.x :class:`bentonb.Service`) gets a
:class:`RunnerHost` when a runtime is built for it. ``host.batcher(name,
run_batch)`` puts one :class:`MicroBatchDispatcher` (the same one 0.x batch
APIs use) in front of a runner method: a call from an API function's worker
thread (``run``) or from the event loop (``async_run``) joins the queue, and
concurrent calls share batches. It never imports tornado, notebook/ or the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from bentonb.bundle.routes import DEFAULT_MB_MAX_BATCH_SIZE, DEFAULT_MB_MAX_LATENCY_MS
from bentonb.errors import BentonbError
from bentonb.server.batching import MicroBatchDispatcher
from bentonb.server.metrics import ServerMetrics

if TYPE_CHECKING:
    from bentonb.server.app import ServerConfig


def _copy(done: asyncio.Future, answer: Future) -> None:
    """Hand an answer from the loop's future to a waiting thread's."""
    if done.cancelled():
        answer.cancel()
    elif done.exception() is not None:
        answer.set_exception(done.exception())
    else:
        answer.set_result(done.result())


class RunnerBatcher:
    """One runner method behind a micro-batcher."""

    def __init__(self, host: RunnerHost, dispatcher: MicroBatchDispatcher) -> None:
        self.host = host
        self.dispatcher = dispatcher

    def run(self, value: Any, count: int) -> Any:
        """From a worker thread: wait for this value's share of a batch (queued by one
        callback on the loop; the batch's answer wakes this thread directly)."""
        answer: Future = Future()

        def enqueue() -> None:
            try:
                pending = self.dispatcher.enqueue(value, count)
            except BaseException as exc:  # noqa: BLE001 - raised in the calling thread
                answer.set_exception(exc)
                return
            pending.future.add_done_callback(lambda done: _copy(done, answer))

        self.host.call_soon(enqueue)
        return answer.result()

    async def async_run(self, value: Any, count: int) -> Any:
        """From the event loop."""
        return await self.dispatcher.submit(value, count)


class RunnerHost:
    """The batchers of one served runtime, all on the server's event loop."""

    def __init__(self, config: ServerConfig, metrics: ServerMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.loop: asyncio.AbstractEventLoop | None = None
        self._dispatchers: list[MicroBatchDispatcher] = []
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:
            pass  # set by bind_loop when the first request arrives

    def bind_loop(self) -> None:
        """Called on the event loop (before each request): the loop batches run on."""
        if self.loop is None:
            self.loop = asyncio.get_running_loop()

    def batcher(self, name: str, run_batch: Callable[[list[Any]], list[Any]]) -> RunnerBatcher:
        dispatcher = MicroBatchDispatcher(
            run_batch, name=name, metrics=self.metrics.hook(name),
            max_batch_size=self.config.mb_max_batch_size or DEFAULT_MB_MAX_BATCH_SIZE,
            max_latency_ms=self.config.mb_max_latency or DEFAULT_MB_MAX_LATENCY_MS)
        self._dispatchers.append(dispatcher)
        return RunnerBatcher(self, dispatcher)

    def _loop_for_thread(self) -> asyncio.AbstractEventLoop:
        """The server's loop, when called from another thread (else a clear error)."""
        loop = self.loop
        if loop is None:
            raise BentonbError("the server's event loop is not known yet")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise BentonbError("a runner's run() was called on the server's event loop; "
                               "in an async API use `await runner.<method>.async_run(x)`")
        return loop

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the server's loop, from a worker thread."""
        self._loop_for_thread().call_soon_threadsafe(callback)

    def run_coroutine(self, coro: Any) -> Any:
        """Run ``coro`` on the server's loop and wait for it, from a worker thread."""
        try:
            loop = self._loop_for_thread()
        except BentonbError:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def close(self) -> None:
        for dispatcher in self._dispatchers:
            dispatcher.close()
