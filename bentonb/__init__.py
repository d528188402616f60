"""bentonb: from a notebook model to a versioned, fast, shareable prediction service.

    import bentonb
    from bentonb.adapters import DataframeInput
    from bentonb.artifact import SklearnModelArtifact

    @bentonb.env(infer_pip_packages=True)
    @bentonb.artifacts([SklearnModelArtifact('model')])
    class IrisClassifier(bentonb.BentoService):
        @bentonb.api(input=DataframeInput(), batch=True)
        def predict(self, df):
            return self.artifacts.model.predict(df)

``import bentonb`` loads nothing but this file and the version: every public name
is bound the first time it is read (a module ``__getattr__``), so a plain process
or a CLI call pays only for what it uses, and frameworks (pandas, torch, spacy,
...) are imported only when a model needs them.
"""

from __future__ import annotations

import importlib
import sys
import types

from bentonb._version import __version__

# Not imported from typing, which costs more than the rest of this module together.
TYPE_CHECKING = False
if TYPE_CHECKING:  # the names as type checkers and editors should see them
    from typing import Any

    from bentonb import (
        io,
        keras,
        mlflow,
        models,
        picklable_model,
        pytorch,
        sklearn,
        spacy,
        xgboost,
    )
    from bentonb.bundle import load
    from bentonb.bundle.source import record_service_source
    from bentonb.client import AsyncClient, Client
    from bentonb.errors import BentonbError
    from bentonb.generations import api, service
    from bentonb.models import BentoModel
    from bentonb.sdk import Context, Runner, Service
    from bentonb.service import BentoService, artifacts, env, web_static_content
    from bentonb.store import LocalStore

#: Public name -> the module that defines it (read on first use).
_LAZY_NAMES = {
    "AsyncClient": "bentonb.client",
    "BentoModel": "bentonb.models",
    "BentoService": "bentonb.service",
    "BentonbError": "bentonb.errors",
    "Client": "bentonb.client",
    "Context": "bentonb.sdk",
    "LocalStore": "bentonb.store",
    "Runner": "bentonb.sdk",
    "Service": "bentonb.sdk",
    "api": "bentonb.generations",
    "env": "bentonb.service",
    "load": "bentonb.bundle",
    "record_service_source": "bentonb.bundle.source",
    "web_static_content": "bentonb.service",
}
#: Public names that are submodules: reading one imports it and gives the module.
_LAZY_SUBMODULES = ("io", "keras", "mlflow", "models", "picklable_model", "pytorch", "sklearn",
                    "spacy", "xgboost")
#: Names that are both a decorator and a package of older import paths
#: (``bentonb.service.BentoService``, ``bentonb.artifacts.sklearn``): the name always
#: gives the decorator, even after the package is imported (see ``_Bentonb``).
_DECORATOR_NAMES = {"artifacts": ("bentonb.service", "artifacts"),
                    "service": ("bentonb.generations", "service")}


def serve(target: Any, **options: Any) -> Any:
    """Serve a packed service, a tag or a bundle path on a background thread.

    Returns a handle with ``.url``, ``.public_url``, ``.api_key`` and ``.stop()``;
    options are those of ``%bento_serve`` (``port``, ``host``, ``ngrok``,
    ``ngrok_token``, ``api_key``, ``mb_max_batch_size``, ``mb_max_latency``).
    """
    from bentonb.notebook.handle import serve as _serve

    return _serve(target, **options)


def load_ipython_extension(ipython: Any) -> None:  # pragma: no cover - through IPython
    """``%load_ext bentonb``: register the notebook magics."""
    from bentonb.notebook.magics import load_ipython_extension as _load

    _load(ipython)


def _is_submodule(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{__name__}.{name}") is not None


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    elif name in _LAZY_SUBMODULES or (not name.startswith("_") and _is_submodule(name)):
        # Importing a submodule binds it on this package; any submodule is reachable as an
        # attribute (``bentonb.frameworks.sklearn``), as when all were imported eagerly.
        return importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later reads skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Bentonb(types.ModuleType):
    """The ``bentonb`` module, with ``artifacts`` and ``service`` fixed to their decorators.

    The import system binds a submodule on its package when it first loads it, so
    ``import bentonb.service`` would otherwise replace the ``@service`` decorator by the
    0.x package (both objects answer the package's attribute reads). An explicit
    assignment of anything else (a test's monkeypatch) still takes effect.
    """

    def _decorator(self, name: str) -> Any:
        overridden = self.__dict__.get("_overridden", {})
        if name in overridden:
            return overridden[name]
        module, attr = _DECORATOR_NAMES[name]
        return getattr(importlib.import_module(module), attr)

    def _bind(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}":
            return  # the import system binding the package: the decorator keeps the name
        self.__dict__.setdefault("_overridden", {})[name] = value

    artifacts = property(lambda self: self._decorator("artifacts"),
                         lambda self, value: self._bind("artifacts", value))
    service = property(lambda self: self._decorator("service"),
                       lambda self, value: self._bind("service", value))


sys.modules[__name__].__class__ = _Bentonb

__all__ = [
    "AsyncClient",
    "BentoModel",
    "BentoService",
    "Client",
    "BentonbError",
    "Context",
    "LocalStore",
    "Runner",
    "Service",
    "__version__",
    "api",
    "artifacts",
    "env",
    "io",
    "keras",
    "mlflow",
    "models",
    "picklable_model",
    "pytorch",
    "sklearn",
    "spacy",
    "xgboost",
    "load",
    "record_service_source",
    "serve",
    "service",
    "web_static_content",
]
