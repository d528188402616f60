"""One stored model version (:class:`Model`) and the hooks that make it usable.

Owns what a stored model offers its callers (path, info, custom objects,
``load_model``, ``to_runner``). Loading and running need a framework or a runner,
which live in layers above: they are installed here through :func:`set_runtime`,
so this module must never import :mod:`bentonb.frameworks`, :mod:`bentonb.sdk`
or the store; only :mod:`bentonb.models.info` and :mod:`bentonb.errors`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bentonb.errors import BentonbError
from bentonb.models.info import CUSTOM_OBJECTS_FILE, ModelInfo

#: Set by the layers above: how a stored model becomes a runner, and an object again.
_RUNTIME: dict[str, Callable[..., Any] | None] = {"runner": None, "loader": None}
#: The module of the layer above that installs each hook when it is imported. ``import
#: bentonb`` no longer imports them, so a hook still missing at first use is installed by
#: importing its module by name: the dependency stays pointing downwards in the code
#: (that module calls :func:`set_runtime`), this is only the address to wake it.
_RUNTIME_MODULES = {"runner": "bentonb.sdk.runner", "loader": "bentonb.frameworks.model_api"}


def set_runtime(runner: Callable[..., Any] | None = None,
                loader: Callable[[Model], Any] | None = None) -> None:
    """Install ``runner(model, **options)`` behind :meth:`Model.to_runner` and
    ``loader(model)`` behind :meth:`Model.load_model` (the sdk and frameworks do)."""
    if runner is not None:
        _RUNTIME["runner"] = runner
    if loader is not None:
        _RUNTIME["loader"] = loader


def _hook(kind: str) -> Callable[..., Any]:
    if _RUNTIME[kind] is None:
        importlib.import_module(_RUNTIME_MODULES[kind])
    hook = _RUNTIME[kind]
    if hook is None:
        raise BentonbError(f"{_RUNTIME_MODULES[kind]} was imported but installed no {kind}")
    return hook


class Model:
    """One stored model version: ``.tag``, ``.path``, ``.info``, ``.custom_objects``."""

    def __init__(self, path: Path, info: ModelInfo) -> None:
        self.path = path
        self.info = info
        self._custom: dict[str, Any] | None = None

    tag = property(lambda self: self.info.tag)
    framework = property(lambda self: self.info.framework)

    def __repr__(self) -> str:
        return f'Model(tag="{self.tag}", path="{self.path}")'

    @property
    def custom_objects(self) -> dict[str, Any]:
        """The objects saved with the model (unpickled once, on first use)."""
        if self._custom is None:
            file = self.path / CUSTOM_OBJECTS_FILE
            if file.is_file():
                import cloudpickle

                with file.open("rb") as handle:
                    self._custom = cloudpickle.load(handle)
            else:
                self._custom = {}
        return self._custom

    def load_model(self) -> Any:
        """The model object, loaded by its framework."""
        return _hook("loader")(self)

    def path_of(self, *parts: str) -> str:
        """The path of a file the framework wrote in this model's directory."""
        return str(self.path.joinpath(*parts))

    def to_runner(self, name: str | None = None, **options: Any) -> Any:
        """A runner calling this model's signatures (``runner.predict.run(x)``)."""
        return _hook("runner")(self, name=name, **options)
