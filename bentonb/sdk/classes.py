"""The 1.2+ class style: ``@bentonb.service`` on a class, ``@bentonb.api`` on its methods.

The decorators (:mod:`bentonb.sdk.decorators`) leave the class a plain Python
class (``Iris()`` loads its models in ``__init__``; its methods are called as
usual) and record what they were given. :class:`ClassService` makes an instance
of such a class a service the server reads like any other: one :class:`ClassApi`
per method, its IO read from the type annotations (:mod:`bentonb.sdk.signature`),
a batchable method a batch API behind the server's micro-batcher. Never imports
the server or the CLI.
"""

from __future__ import annotations

import inspect
import io as _io
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bentonb.errors import InvalidArgument, OutputError
from bentonb.models import BentoModel, Model
from bentonb.sdk.context import Context
from bentonb.sdk.decorators import SERVICE_MARK, ApiOptions, ServiceOptions
from bentonb.sdk.runner import batch_size, concat, split
from bentonb.sdk.service import Api, Service, _WithContext
from bentonb.sdk.signature import ApiSignature


def _argument(kind: str, value: Any, stack: list[Any]) -> Any:
    """What a method parameter of ``kind`` receives for a parsed value."""
    if kind == "image" and not hasattr(value, "getpixel"):
        from PIL import Image

        return Image.fromarray(value)
    if kind == "path" and isinstance(value, _io.IOBase):
        folder = tempfile.TemporaryDirectory(prefix="bentonb-upload-")
        stack.append(folder)
        path = Path(folder.name) / Path(getattr(value, "name", "upload") or "upload").name
        path.write_bytes(value.getvalue() if hasattr(value, "getvalue") else value.read())
        return path
    return value


class ClassApi(Api):
    """One ``@bentonb.api`` method of an instance, shaped like every other API."""

    def __init__(self, service: ClassService, attr: str, options: ApiOptions,
                 signature: ApiSignature) -> None:
        method = getattr(service.instance, attr)
        doc = inspect.cleandoc(method.__doc__ or "")
        super().__init__(service, method, signature.input, signature.output,
                         options.name or attr, options.route, doc)
        self.signature = signature
        self.context_param = signature.context_param
        self.batch = options.batchable
        self.batch_dim = options.batch_dim
        self.mb_max_batch_size = options.max_batch_size
        self.mb_max_latency = options.max_latency_ms
        traffic = service.traffic
        #: Seconds this API may take (``traffic["timeout"]``); None: the server's --timeout.
        self.timeout = float(traffic["timeout"]) if traffic.get("timeout") else None
        if traffic.get("max_concurrency"):
            self.max_concurrency = int(traffic["max_concurrency"])

    #: A class's methods run on worker threads, async ones too (they may block).
    on_loop = False

    def _call(self, value: Any, ctx: Context | None) -> Any:
        sig, stack = self.signature, []
        try:
            kwargs = {sig.context_param: ctx or Context()} if sig.context_param else {}
            if sig.style == "value":
                kwargs[sig.param] = _argument(sig.kind, value, stack)
            elif isinstance(value, dict):
                kwargs.update({n: _argument(sig.file_fields.get(n, ""), value[n], stack)
                               for n in sig.fields})
            else:
                kwargs.update({n: getattr(value, n) for n in sig.fields})
            result = self.func(**kwargs)
            if inspect.iscoroutine(result):
                result = self.service.run_coroutine(result)
            return result
        finally:
            for folder in stack:
                folder.cleanup()

    def _invoke(self, value: Any) -> Any:
        ctx = None
        if isinstance(value, _WithContext):
            value, ctx = value.value, value.ctx
        if self.input_adapter.items_are_rows and not hasattr(value, "columns"):
            value = self.input_adapter.merge([value])
        return self._call(value, ctx)

    def run_batch(self, values: Sequence[Any]) -> list[Any]:
        """A batchable method is called once on the requests' values joined on
        ``batch_dim``, and its answer is cut back per request."""
        if not self.batch:
            return [self._invoke(v) for v in values]
        adapter, dim = self.input_adapter, self.batch_dim
        if adapter.items_are_rows:
            counts = [adapter.count(v) for v in values]
            merged = adapter.merge(values)
        else:
            counts = [batch_size(v, dim) for v in values]
            merged = concat(values, dim)
        result = self._call(merged, None)
        try:
            got = batch_size(result, dim)
        except TypeError:
            raise OutputError(f"batchable API '{self.name}' must return an array, list or "
                              f"frame of results; it returned {type(result).__name__}") from None
        if got != sum(counts):
            raise OutputError(f"batchable API '{self.name}' returned {got} results for "
                              f"{sum(counts)} inputs (along batch_dim={dim})")
        return split(result, counts, dim)


class ClassService(Service):
    """An instance of a ``@bentonb.service`` class, as the server and bundles read it.

    ``ClassService(Iris)`` instantiates the class (its ``__init__`` loads the models);
    ``ClassService(Iris())`` serves an instance made already.
    """

    def __init__(self, target: Any) -> None:
        cls = target if isinstance(target, type) else type(target)
        options: ServiceOptions | None = getattr(cls, SERVICE_MARK, None)
        if options is None:
            raise InvalidArgument(f"{cls.__name__} is not a @bentonb.service class")
        self.options = options
        self.resources = dict(options.resources)
        self.traffic = dict(options.traffic)
        self.instance = target() if isinstance(target, type) else target
        models = [v for k in reversed(cls.__mro__) for v in vars(k).values()
                  if isinstance(v, BentoModel)]
        super().__init__(options.name, models=[m.resolve() for m in models])
        #: What the OpenAPI document says of the service: the class's docstring.
        self.description = inspect.cleandoc(cls.__doc__ or "")
        for attr, api_options, signature in options.apis:
            api = ClassApi(self, attr, api_options, signature)
            clash = [a.name for a in self._apis.values() if a.route == api.route]
            if api.name in self._apis or clash:
                raise InvalidArgument(f"APIs '{(clash or [api.name])[0]}' and '{api.name}' of "
                                      f"'{self.name}' share a name or route")
            self._apis[api.name] = api

    def __repr__(self) -> str:
        return f"<bentonb.service {self.name} apis={list(self._apis)} " \
               f"models={[str(m.tag) for m in self.models if isinstance(m, Model)]}>"


def is_service_class(value: Any) -> bool:
    """True for a ``@bentonb.service`` class or one of its instances."""
    return getattr(value if isinstance(value, type) else type(value), SERVICE_MARK,
                   None) is not None
