"""Adaptive micro-batching: one dispatcher per batch API.

The dispatcher keeps a FIFO queue of requests, each with its item count. It
never waits on a timer: an idle model takes the requests that arrived in the
same turn of the event loop, and while a batch runs the queue fills, so the
next batch leaves the moment the model is free, with up to ``max_batch_size``
items. It learns the model's batch time as T(n) = a*n + b and refuses at once
(503) a request that could not finish within ``max_latency``, instead of
letting latency grow. When the API function raises on a batch, the batch is
bisected so that only the failing request(s) get the error. A queued request
whose caller is cancelled (the client went away, the request timed out) leaves
the queue unseen by the model.

An idle model given many requests at once may take only half of them (see
:meth:`MicroBatchDispatcher._halves`): the loop then answers the first half
while the model runs the second, instead of the loop waiting on the model and
the model on the loop in turn.

All queue state lives on the event loop's thread. A batch runs on the
dispatcher's own worker thread, except one the fitted T(n) says takes at most
``INLINE_SECONDS``: that one runs on the loop's thread at once, as a handler's
own work would, saving the two thread wake-ups that cost more than such a call
(an idle server answers a one-row request of a small model with no hand-off).
This module knows nothing of HTTP: it never imports tornado, the handlers,
notebook/ or the CLI.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bentonb.adapters.base import schema_difference
from bentonb.errors import BadInput, BentonbError, Overloaded
from bentonb.server.direct import ModelThreads
from bentonb.server.latency import LatencyModel
from bentonb.server.logs import log_call

#: What a dispatcher reports to metrics: (event, value).
MetricsHook = Callable[[str, float], None]
#: A batch the model is known to finish within this many seconds runs on the loop.
INLINE_SECONDS = 0.001
#: Batches timed before the fitted T(n) is trusted (to run a batch on the loop, to
#: split the queue).
FIT_AFTER = 8
#: Requests over which the loop thread's CPU time per request is measured.
LOOP_SAMPLE = 16
#: A batch run on the loop that takes longer than this sends every later batch of
#: its API to the model thread: the loop is never held up twice by a surprise.
INLINE_LIMIT = 0.02


@dataclass(eq=False)  # compared by identity: values may be DataFrames
class Pending:
    value: Any
    count: int
    future: asyncio.Future
    deadline: float
    request_id: str | None


def run_isolating(run_batch: Callable[[list[Any]], list[Any]],
                  values: list[Any]) -> list[tuple[bool, Any]]:
    """Run a batch; if it raises, bisect it so only failing requests get an error.

    Returns ``(True, result)`` or ``(False, exception)`` per value, in order.
    """
    try:
        return [(True, r) for r in run_batch(values)]
    except Exception as exc:  # noqa: BLE001 - the user's function may raise anything
        if len(values) == 1:
            return [(False, exc)]
        mid = len(values) // 2
        return (run_isolating(run_batch, values[:mid])
                + run_isolating(run_batch, values[mid:]))


class MicroBatchDispatcher:
    """Groups concurrent requests of one batch API into micro-batches."""

    def __init__(self, run_batch: Callable[[list[Any]], list[Any]], *, name: str,
                 max_batch_size: int, max_latency_ms: float,
                 max_queue_items: int | None = None, metrics: MetricsHook | None = None,
                 schema: Callable[[Any], dict[str, str] | None] | None = None) -> None:
        self.name = name
        self._schema = schema
        self._good_schema: dict[str, str] | None = None  # of a request that succeeded
        self.max_batch_size = max_batch_size
        self.max_latency = max_latency_ms / 1000.0
        self.max_queue_items = max_queue_items or max(1000, max_batch_size * 16)
        self.model = LatencyModel()
        self._run_batch = run_batch
        self._metrics = metrics or (lambda event, value: None)
        self._executor = ModelThreads(1, f"bentonb-{name}")
        self._queue: deque[Pending] = deque()
        self._queued_items = 0
        self._busy_until: float | None = None  # estimated end of the running batch
        self.inline = True  # short batches may run on the loop (see INLINE_SECONDS)
        self._dispatch_due = False  # a dispatch waits for the end of this loop turn
        #: The loop thread's CPU seconds per request (all its work: parsing, answering).
        self.loop_cost: float | None = None
        self._loop_mark: float | None = None  # the loop thread's CPU time when last read
        self._arrivals = 0  # requests since then

    @property
    def queued_items(self) -> int:
        return self._queued_items

    def estimated_wait(self, count: int, now: float) -> float:
        """Seconds until a new request of ``count`` items would be answered."""
        running = max(0.0, self._busy_until - now) if self._busy_until is not None else 0.0
        items = self._queued_items + count
        batches = math.ceil(items / self.max_batch_size)
        return running + self.model.a * items + self.model.b * batches

    async def submit(self, value: Any, count: int, request_id: str | None = None) -> Any:
        """Queue one request and return its result; raise :class:`Overloaded` at once
        when it cannot be answered within ``max_latency``."""
        pending = self.enqueue(value, count, request_id)
        try:
            return await pending.future
        except asyncio.CancelledError:
            self.forget(pending)
            raise

    def enqueue(self, value: Any, count: int, request_id: str | None = None) -> Pending:
        """Queue one request; its result (or error) arrives on ``.future``. Raises
        :class:`Overloaded` at once when it cannot be answered within ``max_latency``.
        Whoever cancels the future calls :meth:`forget`."""
        now = time.monotonic()
        busy = self._busy_until is not None or bool(self._queue)  # someone is ahead
        if busy and self._queued_items + count > self.max_queue_items:
            self._reject()
            raise Overloaded(f"API '{self.name}' queue is full ({self._queued_items} items "
                             "waiting); retry later", retry_after=1.0)
        wait = self.estimated_wait(count, now)
        if busy and wait > self.max_latency:
            self._reject()
            raise Overloaded(
                f"API '{self.name}' cannot answer within {self.max_latency * 1000:.0f} ms "
                f"(about {wait * 1000:.0f} ms of work is queued); retry later",
                retry_after=max(1.0, math.ceil(wait - self.max_latency)))
        future = asyncio.get_running_loop().create_future()
        pending = Pending(value, count, future, now + self.max_latency, request_id)
        self._queue.append(pending)
        self._queued_items += count
        self._arrivals += 1
        self._metrics("queue", self._queued_items)
        if not self._dispatch_due:  # the loop's other ready requests join this batch
            self._dispatch_due = True
            future.get_loop().call_soon(self._dispatch_idle)
        return pending

    def _dispatch_idle(self) -> None:
        self._dispatch_due = False
        self._dispatch(split=True)

    def forget(self, pending: Pending) -> None:
        """Drop a request whose caller went away (the client left, the request timed
        out): when still queued, the model never sees it."""
        if pending in self._queue:
            self._queue.remove(pending)
            self._queued_items -= pending.count
            self._metrics("queue", self._queued_items)

    def _reject(self) -> None:
        self._metrics("rejected", 1)

    def _halves(self) -> bool:
        """Whether an idle model takes half of the queue rather than all of it.

        Taken whole, the queued requests are answered together; the loop, idle while
        the model ran, then answers them and reads the next ones while the model
        idles. Taken in halves, the loop answers the first half while the model runs
        the second: one batch more, costing the model's overhead b, buys overlapping
        the loop's work on half the requests. Worth it when b is less than the loop's
        time for the whole queue, and neither is a guess."""
        requests = len(self._queue)
        if requests < 2 or self.loop_cost is None or self.model.samples < FIT_AFTER:
            return False
        if self.inline and self.model.estimate(self._queued_items) <= INLINE_SECONDS:
            return False  # it runs on the loop itself
        return self.model.overhead < self.loop_cost * requests

    def _dispatch(self, split: bool = False) -> None:
        """Start the next batch when the model is free; ``split`` when the model was
        idle (not just freed by a batch) and may take half the queue."""
        if self._busy_until is not None or not self._queue:
            return
        now = time.monotonic()
        batch: list[Pending] = []
        items = 0
        limit = self.max_batch_size
        if split and self._halves():
            limit = min(limit, math.ceil(self._queued_items / 2))
        while self._queue:
            head = self._queue[0]
            if batch and items + head.count > limit:
                break
            self._queue.popleft()
            self._queued_items -= head.count
            if head.future.done():
                continue  # the client went away
            if head.deadline < now:
                head.future.set_exception(Overloaded(
                    f"API '{self.name}' could not start this request within "
                    f"{self.max_latency * 1000:.0f} ms; retry later"))
                self._reject()
                continue
            batch.append(head)
            items += head.count
        self._metrics("queue", self._queued_items)
        if not batch:
            return
        estimate = self.model.estimate(items)
        self._busy_until = now + estimate
        loop = asyncio.get_running_loop()
        if self.inline and self.model.samples >= FIT_AFTER and estimate <= INLINE_SECONDS:
            self._run_here(loop, batch, items)
        else:
            self._executor.call_soon(self._run_on_thread, loop, batch, items)

    def _run_here(self, loop: asyncio.AbstractEventLoop, batch: list[Pending],
                  items: int) -> None:
        """On the loop's thread: run a short batch now; answer on the next turn of the
        loop (so that a long queue is served between other connections' events)."""
        outcomes, seconds = self._timed_run(batch, items)
        if seconds is None or seconds > INLINE_LIMIT:
            self.inline = False
        loop.call_soon(self._finish, batch, items, outcomes, seconds)

    def _run_on_thread(self, loop: asyncio.AbstractEventLoop, batch: list[Pending],
                       items: int) -> None:
        """On the model thread: run the batch, then hand every answer back to the loop
        in one callback."""
        try:
            outcomes, seconds = self._timed_run(batch, items)
        except BaseException as exc:  # noqa: BLE001 - even SystemExit: each request is answered
            outcomes, seconds = [(False, exc)] * len(batch), None
        try:
            loop.call_soon_threadsafe(self._finish, batch, items, outcomes, seconds)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    def _timed_run(self, batch: list[Pending],
                   items: int) -> tuple[list[tuple[bool, Any]], float | None]:
        """Each request's outcome and the batch's seconds; (the error for every
        request, None) when something raises past the bisection."""
        values, request_ids = [p.value for p in batch], [p.request_id for p in batch]
        try:
            start = time.perf_counter()
            outcomes = run_isolating(self._run_batch, values)
            seconds = time.perf_counter() - start
            if self._schema is not None:
                outcomes = self._explain_failures(values, outcomes)
            log_call(self.name, request_ids, items, seconds, outcomes)
        except Exception as exc:  # noqa: BLE001 - each request gets the error
            return [(False, exc)] * len(batch), None
        return outcomes, seconds

    def _explain_failures(self, values: list[Any],
                          outcomes: list[tuple[bool, Any]]) -> list[tuple[bool, Any]]:
        """A request that failed alone while its table differs from one that worked
        (a missing column, text where numbers were sent) is the client's mistake: 400
        naming the difference instead of the function's 500."""
        if self._good_schema is None:
            good = next((v for v, (ok, _) in zip(values, outcomes) if ok), None)
            self._good_schema = self._safe_schema(good) if good is not None else None
        if self._good_schema is None or all(ok for ok, _ in outcomes):
            return outcomes
        explained = []
        for value, (ok, result) in zip(values, outcomes):
            if not ok and not isinstance(result, BentonbError):
                schema = self._safe_schema(value)
                why = schema and schema_difference(schema, self._good_schema)
                if why:
                    error = BadInput(f"API '{self.name}' cannot use this request: {why}")
                    error.__cause__ = result
                    result = error
            explained.append((ok, result))
        return explained

    def _safe_schema(self, value: Any) -> dict[str, str] | None:
        try:
            return self._schema(value)
        except Exception:  # noqa: BLE001 - no schema: the original outcome stands
            return None

    def _finish(self, batch: Sequence[Pending], items: int, outcomes: list[tuple[bool, Any]],
                seconds: float | None) -> None:
        self._busy_until = None
        self._measure_loop()
        if seconds is not None and all(ok for ok, _ in outcomes):
            self.model.record(items, seconds)
            self._metrics("batch", items)
        for pending, (ok, value) in zip(batch, outcomes):
            if pending.future.done():
                continue
            if ok:
                pending.future.set_result(value)
            else:
                pending.future.set_exception(value)
        self._dispatch()

    def _measure_loop(self) -> None:
        """On the loop's thread: update :attr:`loop_cost` once LOOP_SAMPLE requests
        came since the last reading. All of the loop's work counts, other APIs'
        included: with several busy APIs it errs towards taking halves."""
        now = time.thread_time()
        if self._loop_mark is not None:
            if self._arrivals < LOOP_SAMPLE:
                return
            cost = (now - self._loop_mark) / self._arrivals
            self.loop_cost = cost if self.loop_cost is None else (self.loop_cost + cost) / 2
        self._loop_mark, self._arrivals = now, 0

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
