"""Runners (1.x API): a stored model and its signatures, callable in-process or
batched by the server.

``model.to_runner()`` gives a :class:`Runner` with one :class:`RunnerMethod`
per signature: ``runner.predict.run(x)`` and ``await runner.predict.async_run(x)``.
Outside a server the model is loaded in the calling process on first use (or by
``runner.init_local()``). When a server serves a service, it hands the service
a host (see :meth:`Runner.attach`) and every batchable method goes through that
host's micro-batcher: concurrent calls are concatenated on ``batch_dim``, the
model is called once, and the answer is split back. This module never imports
the server.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Sequence
from typing import Any

from bentonb.errors import InvalidArgument
from bentonb.models import Model, set_runtime


def batch_size(value: Any, dim: int) -> int:
    """How many items ``value`` holds along ``dim`` (an array, a DataFrame, a list)."""
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > dim:
        return int(shape[dim])
    return len(value)


def concat(values: Sequence[Any], dim: int) -> Any:
    """One batch from many requests' inputs, joined along ``dim``."""
    first = values[0]
    if type(first).__module__.startswith("pandas"):
        import pandas as pd

        return pd.concat(list(values), axis=dim)
    if hasattr(first, "shape"):
        import numpy as np

        return np.concatenate([np.asarray(v) for v in values], axis=dim)
    return [item for value in values for item in value]


def split(result: Any, counts: Sequence[int], dim: int) -> list[Any]:
    """Cut a batch's answer back into one piece per request, along ``dim``."""
    pieces, start = [], 0
    iloc = getattr(result, "iloc", None)
    for n in counts:
        if iloc is not None:
            pieces.append(iloc[start:start + n])
        elif dim and hasattr(result, "shape"):
            import numpy as np

            pieces.append(np.take(result, range(start, start + n), axis=dim))
        else:
            pieces.append(result[start:start + n])
        start += n
    return pieces


class RunnerMethod:
    """One signature of a runner: ``run(x)`` blocks, ``async_run(x)`` awaits."""

    def __init__(self, runner: Runner, name: str, batchable: bool, batch_dim: Any) -> None:
        self.runner = runner
        self.name = name
        self.batchable = batchable
        dims = batch_dim if isinstance(batch_dim, (list, tuple)) else (batch_dim, batch_dim)
        self.input_dim, self.output_dim = int(dims[0]), int(dims[1])
        self.batcher: Any = None  # set by the server's host while a server serves it

    def __repr__(self) -> str:
        return f"<RunnerMethod {self.runner.name}.{self.name} batchable={self.batchable}>"

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.runner.model_object(), self.name)(*args, **kwargs)

    def run_batch(self, values: list[Any]) -> list[Any]:
        """Answer many calls' inputs with one model call (what the batcher runs)."""
        counts = [batch_size(v, self.input_dim) for v in values]
        result = self._call(concat(values, self.input_dim))
        return split(result, counts, self.output_dim)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Call the model's method; batched with concurrent calls when served."""
        batcher = self.batcher
        if batcher is not None and len(args) == 1 and not kwargs:
            return batcher.run(args[0], batch_size(args[0], self.input_dim))
        return self._call(*args, **kwargs)

    async def async_run(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`run` for async API functions: the event loop never waits on the model."""
        batcher = self.batcher
        if batcher is not None and len(args) == 1 and not kwargs:
            return await batcher.async_run(args[0], batch_size(args[0], self.input_dim))
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._call(*args, **kwargs))


class Runner:
    """A model's runner: ``runner.<signature>.run(x)``, ``runner.init_local()``."""

    def __init__(self, model: Model, name: str | None = None) -> None:
        if not isinstance(model, Model):
            raise InvalidArgument(f"a runner wraps a stored model (bentonb.models.get(tag)), "
                                  f"got {model!r:.80}")
        self.model = model
        self.name = name or model.tag.name
        if not self.name.replace("-", "_").replace(".", "_").isidentifier():
            raise InvalidArgument(f"runner name {self.name!r} must be a name such as "
                                  "'iris_clf'")
        self._object: Any = None
        self._lock = threading.Lock()
        self.methods = {method: RunnerMethod(self, method, opts["batchable"], opts["batch_dim"])
                        for method, opts in model.info.signatures.items()}
        self._noted = False

    def __repr__(self) -> str:
        return f"<Runner {self.name} model={self.model.tag} methods={list(self.methods)}>"

    def __getattr__(self, name: str) -> RunnerMethod:
        methods = self.__dict__.get("methods", {})
        if name in methods:
            return methods[name]
        if name == "run" and "__call__" in methods:
            return methods["__call__"]
        raise AttributeError(f"runner '{self.__dict__.get('name')}' has no method '{name}' "
                             f"(its signatures: {', '.join(methods) or 'none'})")

    @property
    def run(self) -> Any:
        """``runner.run(x)``: the ``__call__`` signature (or the only one)."""
        only = self.methods.get("__call__") or (next(iter(self.methods.values()))
                                                if len(self.methods) == 1 else None)
        if only is None:
            raise AttributeError(f"runner '{self.name}' has several signatures; call "
                                 f"runner.<signature>.run(x) ({', '.join(self.methods)})")
        return only.run

    def init_local(self, quiet: bool = False) -> None:
        """Load the model into this process now (otherwise it loads on first use)."""
        with self._lock:
            if self._object is None:
                self._object = self.model.load_model()
                self._noted = self._noted or quiet

    def model_object(self) -> Any:
        """The loaded model, loading it (with a one-line note) on first use."""
        if self._object is None:
            self.init_local()
            if not self._noted:
                self._noted = True
                print(f"bentonb: runner '{self.name}' runs {self.model.tag} in this process "
                      "(runner.init_local() is implied outside a server)", file=sys.stderr)
        return self._object

    def attach(self, host: Any) -> None:
        """Route batchable methods through ``host.batcher(...)`` (None: call directly).

        ``host`` is what a server provides: ``host.batcher(name, run_batch)`` returns
        an object with ``run(value, count)`` and ``async def async_run(value, count)``.
        """
        for method in self.methods.values():
            method.batcher = (host.batcher(f"{self.name}.{method.name}", method.run_batch)
                              if host is not None and method.batchable else None)


set_runtime(runner=lambda model, name=None, **options: Runner(model, name))
