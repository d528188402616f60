"""The common shape of every artifact: pack, save, load one framework's model.

An artifact module holds one subclass of :class:`BaseArtifact` that fills in
four things: which objects it accepts (:meth:`is_model`), how to write them
(:meth:`save_model`), how to read them back (:meth:`load_model`), and the
import names whose distributions the bundle must install (``modules``).
"""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from typing import Any, ClassVar

from bentonb.errors import ArtifactNotPacked, ArtifactTypeError, InvalidArgument

_ARTIFACTS: dict[str, type[BaseArtifact]] = {}


def is_instance_of(obj: Any, module: str, *names: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module`` when it is not loaded:
    an object of a framework that was never imported cannot be of that framework."""
    root = module.split(".")[0]
    if root not in sys.modules:
        return False
    mod = importlib.import_module(module)
    return isinstance(obj, tuple(getattr(mod, n) for n in names))


def type_name(obj: Any) -> str:
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


class BaseArtifact:
    """A named slot in a service for one model of one framework."""

    #: The framework's name as recorded in the manifest ("scikit-learn").
    framework: ClassVar[str] = "python"
    #: What the artifact accepts, as shown in errors ("a scikit-learn estimator").
    expected: ClassVar[str] = "an object"
    #: Import names whose installed distributions go into requirements.txt.
    modules: ClassVar[tuple[str, ...]] = ()
    #: The module whose version is recorded as the framework version.
    framework_module: ClassVar[str | None] = None

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidArgument(f"artifact name must be a Python identifier, got {name!r}")
        self.name = name
        self.metadata: dict[str, Any] = {}
        self._model: Any = None
        self._packed = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("Base"):
            _ARTIFACTS[cls.__name__] = cls

    def __repr__(self) -> str:
        state = "packed" if self._packed else "empty"
        return f"{type(self).__name__}({self.name!r}, {state})"

    @property
    def type_name(self) -> str:
        return type(self).__name__

    @property
    def is_packed(self) -> bool:
        return self._packed

    def fresh(self) -> BaseArtifact:
        """An empty copy: each service instance packs its own models."""
        clone = copy.copy(self)
        clone.metadata, clone._model, clone._packed = {}, None, False
        return clone

    def is_model(self, obj: Any) -> bool:
        raise NotImplementedError

    def pack(self, obj: Any, metadata: dict[str, Any] | None = None) -> BaseArtifact:
        """Check ``obj`` is of this artifact's framework and keep it in memory."""
        if not self.is_model(obj):
            raise ArtifactTypeError(
                f"artifact '{self.name}' ({self.type_name}) expects {self.expected}; "
                f"got {type_name(obj)}"
            )
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidArgument(f"metadata for artifact '{self.name}' must be a dict")
        self._model, self._packed = obj, True
        self.metadata = dict(metadata or {})
        return self

    def get(self) -> Any:
        """The packed (or loaded) model."""
        if not self._packed:
            raise ArtifactNotPacked(
                f"artifact '{self.name}' is empty: pack a model first, "
                f"e.g. svc.pack('{self.name}', model)"
            )
        return self._model

    def save(self, directory: Path) -> dict[str, Any]:
        """Write the model under ``directory``; return options :meth:`load` needs back."""
        directory.mkdir(parents=True, exist_ok=True)
        return self.save_model(self.get(), directory) or {}

    def load(self, directory: Path, options: dict[str, Any] | None = None,
             metadata: dict[str, Any] | None = None) -> BaseArtifact:
        self._model = self.load_model(directory, dict(options or {}))
        self._packed = True
        self.metadata = dict(metadata or {})
        return self

    def save_model(self, model: Any, directory: Path) -> dict[str, Any] | None:
        raise NotImplementedError

    def load_model(self, directory: Path, options: dict[str, Any]) -> Any:
        raise NotImplementedError

    def framework_version(self) -> str | None:
        if self.framework_module is None:
            return None
        module = importlib.import_module(self.framework_module)
        version = getattr(module, "__version__", None)
        return str(version) if version is not None else None


def artifact_class(type_name: str) -> type[BaseArtifact]:
    """The artifact class registered under ``type_name``."""
    if type_name not in _ARTIFACTS:
        raise InvalidArgument(f"unknown artifact type '{type_name}' (known: "
                              f"{', '.join(sorted(_ARTIFACTS))}); the bundle may come from a "
                              "newer bentonb")
    return _ARTIFACTS[type_name]
