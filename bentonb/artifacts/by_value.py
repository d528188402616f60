"""Make classes from the user's own files travel inside a pickle.

A model class defined in a notebook or in a local file (``main.py``,
``model_def.py``) does not exist where the bundle is loaded. cloudpickle
copies ``__main__`` classes by value already; this also does it for classes
from local modules, that is, modules not installed under site-packages.
"""

from __future__ import annotations

import contextlib
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
