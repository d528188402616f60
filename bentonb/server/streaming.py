"""Streaming answers: an API function that is a generator sends each item as it comes.

This module owns :class:`ItemStream` (the items of a sync generator, each step run
on the API's worker threads, or of an async generator, run on the event loop),
:class:`StreamFraming` (Server-Sent Events when the client sends ``Accept:
text/event-stream``, else JSON lines, ``application/x-ndjson``) and
:func:`write_stream`, which flushes every item to the client as soon as it is
produced and stops the generator (its ``finally`` runs) when the client goes
away. A streaming API is never micro-batched. Never imports notebook/ or the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from tornado.iostream import StreamClosedError

from bentonb.server.logs import PREDICTION

SSE = "text/event-stream"
NDJSON = "application/x-ndjson"
_END = object()


class ItemStream:
    """The items of one call's generator, read one at a time off the event loop."""

    def __init__(self, source: Any, run_on_thread: Callable[..., Awaitable[Any]]) -> None:
        self._source = source
        self._async = hasattr(source, "__anext__")
        if not self._async:
            self._source = iter(source)
        self._run_on_thread = run_on_thread

    async def next(self) -> Any:
        """The next item; :class:`StopAsyncIteration` when the generator is done."""
        if self._async:
            return await self._source.__anext__()
        item = await self._run_on_thread(next, self._source, _END)
        if item is _END:
            raise StopAsyncIteration
        return item

    async def close(self) -> None:
        """Stop the generator where it is: its ``finally`` blocks run."""
        if self._async:
            await self._source.aclose()
        elif hasattr(self._source, "close"):
            await self._run_on_thread(self._source.close)


class StreamFraming:
    """How items and a mid-stream error are written for one client."""

    def __init__(self, accept: str) -> None:
        self.sse = SSE in accept.lower()
        self.media_type = SSE if self.sse else NDJSON

    def item(self, body: bytes) -> bytes:
        if self.sse:  # one data: line per line of the item (a CSV item has several)
            return b"".join(b"data: " + line + b"\n" for line in body.splitlines()) + b"\n"
        return body.rstrip(b"\n") + b"\n"

    def error(self, message: str, request_id: str) -> bytes:
        body = json.dumps({"error": message, "request_id": request_id}).encode("utf-8")
        return b"event: error\ndata: " + body + b"\n\n" if self.sse else body + b"\n"


async def write_stream(handler: Any, api: Any, source: Any,
                       run_on_thread: Callable[..., Awaitable[Any]],
                       apply_context: Callable[[int], int]) -> int:
    """Send the items of ``source`` (what the API function returned) through
    ``handler``; return the status to log.

    The first item is read before anything is sent, so an error before it is still
    a plain JSON error answer (raised to the caller). Later errors end the stream
    with an error event. The generator is closed on every way out.
    """
    items = ItemStream(source, run_on_thread)
    framing = StreamFraming(handler.request.headers.get("Accept", ""))
    encode = api.output_adapter.to_http
    try:
        try:
            first: Any = encode(await items.next()).body
        except StopAsyncIteration:
            first = None
        status = apply_context(200)
        handler.set_status(status)
        handler.set_header("Content-Type", framing.media_type)
        handler.set_header("Cache-Control", "no-cache")
        handler.set_header("X-Accel-Buffering", "no")  # proxies must not hold items back
        if first is not None:
            handler.write(framing.item(first))
        await handler.flush()
        while first is not None and not handler._gone:
            try:
                body = encode(await items.next()).body
            except StopAsyncIteration:
                break
            except Exception as exc:  # noqa: BLE001 - the user's generator may raise anything
                PREDICTION.error("%s failed mid-stream for request %s", api.name,
                                 handler.request_id, exc_info=exc,
                                 extra={"api": api.name, "request_id": handler.request_id})
                handler.write(framing.error(f"API '{api.name}' raised {type(exc).__name__}: "
                                            f"{exc}", handler.request_id))
                break
            handler.write(framing.item(body))
            await handler.flush()
    except StreamClosedError:
        handler._gone = True
    finally:
        await items.close()
    if handler._gone:
        return 499
    handler.finish()
    return status
