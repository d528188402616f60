"""The API objects of a service: what ``@api`` recorded (:class:`ApiConfig`) and one
instance's callable API (:class:`InferenceAPI`), with the batch split helpers.

An :class:`InferenceAPI` is what the server, the batch runner and the widget
call: one API function, its input and output adapters and its batching
settings. It asks the input adapter's declared capabilities (``items_are_rows``,
``count``, ``merge``), never its class. This module must never import
``bentonb.bundle``, ``bentonb.server`` or any ML framework.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bentonb.adapters.base import BaseInputAdapter, BaseOutputAdapter
from bentonb.errors import OutputError

if TYPE_CHECKING:
    from bentonb.service.bento_service import BentoService


@dataclass(frozen=True)
class ApiConfig:
    """What ``@api`` recorded about one method."""

    func: Callable[..., Any]
    input: BaseInputAdapter
    output: BaseOutputAdapter
    batch: bool
    name: str
    route: str
    mb_max_batch_size: int
    mb_max_latency: float
    doc: str


def is_streaming(func: Callable[..., Any]) -> bool:
    """True when ``func`` is a generator or async generator function: its API answers
    with a stream of items and is never micro-batched."""
    func = inspect.unwrap(func)
    return inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)


class InferenceAPI:
    """One API of a service instance: callable in Python, batched by the server."""

    def __init__(self, service: BentoService, config: ApiConfig) -> None:
        self.service = service
        self.config = config
        self._func = config.func.__get__(service, type(service))
        #: True when the API function is a generator: the server streams its items.
        self.streaming = is_streaming(config.func)

    name = property(lambda self: self.config.name)
    route = property(lambda self: self.config.route)
    input_adapter = property(lambda self: self.config.input)
    output_adapter = property(lambda self: self.config.output)
    batch = property(lambda self: self.config.batch)
    mb_max_batch_size = property(lambda self: self.config.mb_max_batch_size)
    mb_max_latency = property(lambda self: self.config.mb_max_latency)
    doc = property(lambda self: self.config.doc)

    def open_stream(self, value: Any) -> Any:
        """The generator of a streaming API for one request's parsed value (not run
        yet: the server reads its items one at a time)."""
        adapter = self.input_adapter
        if adapter.items_are_rows and not hasattr(value, "columns"):
            value = adapter.merge([value])  # the request's parsed rows -> its DataFrame
        return self._func(value)

    def __repr__(self) -> str:
        return (f"<InferenceAPI {self.service.name}.{self.name} "
                f"{self.input_adapter.type_name} -> {self.output_adapter.type_name}>")

    def __call__(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the API function as HTTP would: inputs are normalised by the adapter
        (a list of rows becomes a DataFrame), batch APIs receive a batch."""
        adapter = self.input_adapter
        if self.batch and not adapter.items_are_rows and isinstance(value, (list, tuple)):
            value = [adapter.from_python(v) for v in value]
        else:
            value = adapter.from_python(value)
        return self._func(value, *args, **kwargs)

    def run_batch(self, values: Sequence[Any]) -> list[Any]:
        """Answer many requests' parsed values at once; one result per value, in order.

        A batch API is called once on the merged batch and its result is split
        back per request (a DataFrame request of N rows gets its N results).
        """
        if not self.batch:
            return [self._func(v) for v in values]
        adapter = self.input_adapter
        counts = [adapter.count(v) for v in values]
        result = self._func(adapter.merge(values))
        total = sum(counts)
        try:
            got = len(result)
        except TypeError:
            raise OutputError(
                f"batch API '{self.name}' must return one result per input item "
                f"(a list, array, Series or DataFrame); it returned {type(result).__name__}"
            ) from None
        if got != total:
            raise OutputError(f"batch API '{self.name}' returned {got} results "
                              f"for {total} input items")
        if adapter.items_are_rows:
            return split_rows(result, counts)
        return [_item(result, i) for i in range(total)]


def _item(result: Any, i: int) -> Any:
    iloc = getattr(result, "iloc", None)
    return iloc[i] if iloc is not None else result[i]


def split_rows(result: Any, counts: Sequence[int]) -> list[Any]:
    """Cut a batch result into consecutive slices of the given sizes."""
    iloc = getattr(result, "iloc", None)
    pieces, start = [], 0
    for n in counts:
        pieces.append(iloc[start:start + n] if iloc is not None else result[start:start + n])
        start += n
    return pieces
