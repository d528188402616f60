"""Picklable objects: any Python object, saved with cloudpickle.

Everything bentonb knows about plain picklable models lives here: saving an
object to a directory (classes from a notebook or a local ``.py`` file travel
by value) and loading it back, and the 0.x :class:`PickleArtifact` built on
those functions. No framework version is recorded. cloudpickle is imported
inside the functions only; this module never imports ``bentonb.adapters``,
``bentonb.bundle`` or ``bentonb.service``.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bentonb.frameworks.base import BaseArtifact, pickle_local_modules_by_value
from bentonb.frameworks.model_api import bind

FRAMEWORK = "cloudpickle"
EXPECTED = "any picklable object"
MODULES = ("cloudpickle",)


def framework_version() -> str | None:
    """None: any object may be pickled, there is no one framework to pin."""
    return None


def is_model(obj: Any) -> bool:
    """Always True: whether it pickles is only known when it is saved."""
    return True


def save_model_to_dir(model: Any, path: Path) -> dict[str, Any]:
    """Write ``model`` into the existing directory ``path``; return the load options."""
    import cloudpickle

    with pickle_local_modules_by_value(model), open(Path(path) / "model.pkl", "wb") as f:
        cloudpickle.dump(model, f)
    return {}


def load_model_from_dir(path: Path, options: Mapping[str, Any] | None = None) -> Any:
    """The object :func:`save_model_to_dir` wrote into ``path``."""
    with open(Path(path) / "model.pkl", "rb") as f:
        return pickle.load(f)


class PickleArtifact(BaseArtifact):
    """0.x artifact: ``@artifacts([PickleArtifact('model')])``."""

    flavor = sys.modules[__name__]


#: The 1.x API, public as ``bentonb.picklable_model``.
save_model, get, load_model = bind(
    sys.modules[__name__], {"__call__": {"batchable": False}}, "picklable_model")
