"""``bentonb.Service`` (1.x API): runners plus ``@svc.api`` functions.

A 1.x service describes itself to the server, the bundle writer and the widget
exactly as a 0.x service does: a ``name``, ``inference_apis`` (each with a
name, route, input and output adapters, batching settings, doc and
``run_batch``), ``tag``, ``version``, ``labels``, ``bundle_path`` and an empty
set of ``artifacts``. What the server may add is optional and asked for by
attribute: :meth:`Service.bind_host` (batching of runners) and an API's
``new_context`` / ``with_context`` (the ``ctx`` parameter).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from bentonb.bundle.routes import DEFAULT_MB_MAX_BATCH_SIZE, DEFAULT_MB_MAX_LATENCY_MS, check_route
from bentonb.errors import InvalidArgument, NotFound, did_you_mean
from bentonb.sdk.context import Context
from bentonb.sdk.io import as_input, as_output
from bentonb.sdk.runner import Runner
from bentonb.tags import check_name

#: Calls of one 1.x API running at once: a call waiting on a batched runner holds a
#: thread, and concurrent calls are what fill a runner's batches.
API_CONCURRENCY = 64


@dataclass(frozen=True)
class _WithContext:
    value: Any
    ctx: Context


def _context_parameter(func: Callable[..., Any]) -> str | None:
    """The name of the parameter that receives the Context, if the function has one."""
    params = list(inspect.signature(func).parameters.values())[1:]
    for param in params:
        if param.annotation is Context or param.annotation in ("Context", "bentonb.Context") \
                or param.name in ("ctx", "context"):
            return param.name
    return None


class Api:
    """One ``@svc.api`` function, shaped like a 0.x :class:`~bentonb.service.InferenceAPI`."""

    batch = False
    mb_max_batch_size = DEFAULT_MB_MAX_BATCH_SIZE
    mb_max_latency = float(DEFAULT_MB_MAX_LATENCY_MS)
    max_concurrency = API_CONCURRENCY

    def __init__(self, service: Service, func: Callable[..., Any], input: Any, output: Any,
                 name: str | None, route: str | None, doc: str | None) -> None:
        self.service = service
        self.func = func
        self.name = name or func.__name__
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise InvalidArgument(f"API name must be a Python identifier, got {self.name!r}")
        self.route = check_route(route, self.name)
        self.input_adapter = as_input(input)
        self.output_adapter = as_output(output)
        self.doc = inspect.cleandoc(doc if doc is not None else func.__doc__ or "")
        self.context_param = _context_parameter(func)
        self.is_async = inspect.iscoroutinefunction(func)
        #: A generator function streams its items (never batched; see server/streaming.py).
        self.streaming = inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)

    def __repr__(self) -> str:
        return (f"<Api {self.service.name}.{self.name} {self.input_adapter.type_name} -> "
                f"{self.output_adapter.type_name}>")

    # -- what the server asks for the ctx parameter -------------------------------------
    def new_context(self, method: str, headers: Any, query: Any, path: str) -> Context | None:
        if self.context_param is None:
            return None
        return Context.from_http(method, headers, query, path)

    def with_context(self, value: Any, ctx: Context | None) -> Any:
        return value if ctx is None else _WithContext(value, ctx)

    # -- calling -------------------------------------------------------------------------
    @property
    def on_loop(self) -> bool:
        """True when a server awaits this API on its event loop (an async function, not
        streaming): its runners' ``async_run`` then joins the batcher with no thread in
        between. A sync function runs on a worker thread."""
        return self.is_async and not self.streaming

    def _arguments(self, value: Any) -> tuple[Any, dict[str, Any]]:
        ctx = None
        if isinstance(value, _WithContext):
            value, ctx = value.value, value.ctx
        if self.input_adapter.items_are_rows and not hasattr(value, "columns"):
            value = self.input_adapter.merge([value])  # the request's parsed rows -> a frame
        return value, ({self.context_param: ctx or Context()} if self.context_param else {})

    def _invoke(self, value: Any) -> Any:
        value, kwargs = self._arguments(value)
        result = self.func(value, **kwargs)
        if inspect.iscoroutine(result):
            result = self.service.run_coroutine(result)
        return result

    async def run_async(self, value: Any) -> Any:
        """One request on the server's event loop (see :attr:`on_loop`)."""
        value, kwargs = self._arguments(value)
        result = self.func(value, **kwargs)
        return await result if inspect.isawaitable(result) else result

    def open_stream(self, value: Any) -> Any:
        """A streaming API's generator for one request (its items are read by the server)."""
        return self._invoke(value)

    def run_batch(self, values: Sequence[Any]) -> list[Any]:
        """One call per request (a 1.x API is not batched; its runners are)."""
        return [self._invoke(v) for v in values]

    def __call__(self, value: Any, ctx: Context | None = None) -> Any:
        """Call the API as HTTP would: the input is checked by the input adapter."""
        value = self.input_adapter.from_python(value)
        return self._invoke(_WithContext(value, ctx) if ctx is not None else value)


class Service:
    """``bentonb.Service(name, runners=[...])``; add APIs with ``@svc.api(...)``."""

    #: What the server shows at ``/``: Swagger UI, as BentoML 1.x does (open ``/``, pick
    #: an API, "Try it out"). A 0.x service declares none and keeps the bentonb page.
    root_page: ClassVar[str] = "swagger"

    def __init__(self, name: str, runners: Sequence[Runner] | None = None,
                 models: Sequence[Any] | None = None) -> None:
        self._name = check_name(str(name), "service")
        self.runners = list(runners or [])
        for runner in self.runners:
            if not isinstance(runner, Runner):
                raise InvalidArgument(f"Service(runners=...) takes runners such as "
                                      f"model.to_runner(), got {runner!r:.80}")
        names = [r.name for r in self.runners]
        if len(set(names)) != len(names):
            raise InvalidArgument(f"Service '{name}' has two runners named alike: {names}")
        self.models = list(models or [])
        self._apis: dict[str, Api] = {}
        self.version: str | None = None
        self.bundle_path: Path | None = None
        self.labels: dict[str, str] = {}
        self.artifacts: list[Any] = []
        self._host: Any = None

    name = property(lambda self: self._name)
    tag = property(lambda self: f"{self.name}:{self.version}" if self.version else None)
    inference_apis = property(lambda self: list(self._apis.values()))

    def __repr__(self) -> str:
        return f"<bentonb.Service {self.name} apis={list(self._apis)} " \
               f"runners={[r.name for r in self.runners]}>"

    def get_inference_api(self, name: str) -> Api:
        if name not in self._apis:
            raise NotFound(f"{self.name} has no API '{name}' (its APIs: "
                           f"{', '.join(self._apis) or 'none'}){did_you_mean(name, self._apis)}")
        return self._apis[name]

    def api(self, input: Any = None, output: Any = None, *, name: str | None = None,
            route: str | None = None, doc: str | None = None,
            **unknown: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Serve a function as an API: ``@svc.api(input=JSON(), output=JSON())``; the
        route is ``/<name>`` (the function's name) unless ``route=`` says otherwise."""
        if unknown:
            key = next(iter(unknown))
            known = ["input", "output", "name", "route", "doc"]
            raise InvalidArgument(f"@svc.api got an unknown option '{key}'"
                                  f"{did_you_mean(key, known)}")
        if input is None:
            raise InvalidArgument("@svc.api needs input=, e.g. input=bentonb.io.JSON()")

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            api = Api(self, func, input, output, name, route, doc)
            if api.name in self._apis:
                raise InvalidArgument(f"Service '{self.name}' defines API '{api.name}' twice")
            clash = [a.name for a in self._apis.values() if a.route == api.route]
            if clash:
                raise InvalidArgument(f"APIs '{clash[0]}' and '{api.name}' of '{self.name}' "
                                      f"share the route '/{api.route}'")
            self._apis[api.name] = api
            return func

        return decorate

    # -- what a server asks -------------------------------------------------------------
    def init_runners(self) -> None:
        """Load every runner's model now (a server does this before it answers)."""
        for runner in self.runners:
            runner.init_local(quiet=True)

    def bind_host(self, host: Any) -> None:
        """Batch the runners through ``host`` (a serving server's; see Runner.attach)."""
        self._host = host
        for runner in self.runners:
            runner.attach(host)

    def unbind_host(self, host: Any) -> None:
        """Stop using ``host`` when it is still the one bound (a swap may have replaced it)."""
        if self._host is host:
            self.bind_host(None)

    def run_coroutine(self, coro: Any) -> Any:
        """Finish an async API function's coroutine from a worker thread."""
        host = self._host
        if host is not None:
            return host.run_coroutine(coro)
        return asyncio.run(coro)
