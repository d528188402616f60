"""What every framework module shares: the artifact base class, its registry, and
pickling of the user's own classes by value.

Each framework module (``sklearn.py``, ``pytorch.py``, ...) has the same shape:
``FRAMEWORK``, ``EXPECTED``, ``MODULES``, ``framework_version()``,
``is_model(obj)``, ``save_model_to_dir(model, path) -> options`` and
``load_model_from_dir(path, options)``, plus its 0.x artifact class, a
:class:`BaseArtifact` subclass built on those functions. This module must never
import a framework at module level (``import bentonb`` stays light), nor
``bentonb.adapters``, ``bentonb.bundle`` or ``bentonb.service``, which sit
beside or above it.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
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


def module_version(module: str) -> str | None:
    """``module.__version__`` as a string (importing it), or None when it has none."""
    version = getattr(importlib.import_module(module), "__version__", None)
    return str(version) if version is not None else None


def describe_type(obj: Any) -> str:
    """The dotted type of ``obj`` for error messages (``sklearn.svm._classes.SVC``)."""
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


class BaseArtifact:
    """A named slot in a service for one model of one framework.

    A framework module's artifact names the module as its ``flavor``: the class then
    declares what the module declares (``FRAMEWORK``, ``EXPECTED``, ``MODULES``) and
    its :meth:`is_model`, :meth:`save_model` and :meth:`load_model` are the module's
    functions. Any other subclass declares those itself. Callers ask these, never
    the class name. Every subclass is registered under its class name, the
    ``type`` a bundle manifest records.
    """

    #: The framework module whose functions this artifact uses (None: it overrides them).
    flavor: ClassVar[ModuleType | None] = None

    #: The framework's name as recorded in the manifest ("scikit-learn").
    framework: ClassVar[str] = "python"
    #: What the artifact accepts, as shown in errors ("a scikit-learn estimator").
    expected: ClassVar[str] = "an object"
    #: Import names whose installed distributions go into requirements.txt.
    modules: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidArgument(f"artifact name must be a Python identifier, got {name!r}")
        self.name = name
        self.metadata: dict[str, Any] = {}
        self._model: Any = None
        self._packed = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        flavor = vars(cls).get("flavor")
        if flavor is not None:
            cls.framework, cls.expected = flavor.FRAMEWORK, flavor.EXPECTED
            cls.modules = tuple(flavor.MODULES)
        _ARTIFACTS[cls.__name__] = cls

    def __repr__(self) -> str:
        state = "packed" if self._packed else "empty"
        return f"{type(self).__name__}({self.name!r}, {state})"

    @property
    def type_name(self) -> str:
        """The registry key recorded in a bundle manifest (the class name)."""
        return type(self).__name__

    @property
    def is_packed(self) -> bool:
        return self._packed

    def fresh(self) -> BaseArtifact:
        """An empty copy: each service instance packs its own models."""
        clone = copy.copy(self)
        clone.metadata, clone._model, clone._packed = {}, None, False
        return clone

    def pack(self, obj: Any, metadata: dict[str, Any] | None = None) -> BaseArtifact:
        """Check ``obj`` is of this artifact's framework and keep it in memory."""
        if not self.is_model(obj):
            raise ArtifactTypeError(
                f"artifact '{self.name}' ({self.type_name}) expects {self.expected}; "
                f"got {describe_type(obj)}"
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
        """Read the model :meth:`save` wrote under ``directory``; the artifact is packed."""
        self._model = self.load_model(directory, dict(options or {}))
        self._packed = True
        self.metadata = dict(metadata or {})
        return self

    def is_model(self, obj: Any) -> bool:
        """True when ``obj`` is a model this artifact can save."""
        return self._flavor().is_model(obj)

    def save_model(self, model: Any, directory: Path) -> dict[str, Any] | None:
        """Write ``model`` into the existing ``directory``; return the options to load it."""
        return self._flavor().save_model_to_dir(model, directory)

    def load_model(self, directory: Path, options: dict[str, Any]) -> Any:
        """Read back what :meth:`save_model` wrote, given the options it returned."""
        return self._flavor().load_model_from_dir(directory, options)

    def framework_version(self) -> str | None:
        """The installed framework's version, recorded in the manifest (None: no framework)."""
        return self.flavor.framework_version() if self.flavor is not None else None

    def _flavor(self) -> ModuleType:
        if self.flavor is None:
            raise NotImplementedError(f"{type(self).__name__} names no flavor module and "
                                      "does not implement this method")
        return self.flavor


def artifact_class(type_name: str) -> type[BaseArtifact]:
    """The artifact class registered under ``type_name`` (a manifest's artifact ``type``)."""
    found = _ARTIFACTS.get(type_name)
    if found is None:
        raise InvalidArgument(f"unknown artifact type '{type_name}' (known: "
                              f"{', '.join(sorted(_ARTIFACTS))}); the bundle may come from a "
                              "newer bentonb")
    return found


# -- classes from the user's own files travel inside the pickle ---------------------------------
# A model class defined in a notebook or in a local file (``main.py``) does not exist where
# the bundle is loaded. cloudpickle copies ``__main__`` classes by value already; this does
# it for classes from local modules too, that is, modules not installed under site-packages.

_INSTALLED_ROOTS = tuple(
    str(Path(p).resolve())
    for key in ("stdlib", "platstdlib", "purelib", "platlib")
    if (p := sysconfig.get_paths().get(key))
)


def is_local_module(name: str) -> bool:
    """True for a module loaded from a file outside the interpreter's install paths."""
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if module is None or not path or name == "__main__" or name.split(".")[0] == "bentonb":
        return False
    resolved = str(Path(path).resolve())
    return not resolved.startswith(_INSTALLED_ROOTS) and "site-packages" not in resolved


def _classes_of(obj: Any) -> Iterator[type]:
    yield type(obj)
    submodules = getattr(obj, "modules", None)
    if callable(submodules):
        with contextlib.suppress(Exception):
            for sub in submodules():
                yield type(sub)


@contextlib.contextmanager
def pickle_local_modules_by_value(obj: Any) -> Iterator[None]:
    """While active, cloudpickle copies the local modules defining ``obj``'s classes."""
    import cloudpickle

    names = {cls.__module__ for cls in _classes_of(obj) if is_local_module(cls.__module__)}
    registered = []
    try:
        for name in names:
            cloudpickle.register_pickle_by_value(sys.modules[name])
            registered.append(name)
        yield
    finally:
        for name in registered:
            cloudpickle.unregister_pickle_by_value(sys.modules[name])
