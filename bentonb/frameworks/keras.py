"""Keras 3: a model in the native ``.keras`` format.

Everything bentonb knows about Keras lives here: the framework's name and
version, the type check, saving a model to a directory and loading it back,
and the 0.x :class:`KerasModelArtifact` built on those functions. The backend
the model was saved with (torch, jax, tensorflow) is recorded and selected
again at load time when Keras has not been imported yet. keras is imported
inside the functions only; this module never imports ``bentonb.adapters``,
``bentonb.bundle`` or ``bentonb.service``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bentonb.frameworks.base import BaseArtifact, is_instance_of, module_version
from bentonb.frameworks.model_api import bind

FRAMEWORK = "keras"
EXPECTED = "a Keras model (keras.Model)"
MODULES = ("keras",)


def framework_version() -> str | None:
    """The installed Keras version."""
    return module_version("keras")


def is_model(obj: Any) -> bool:
    """True for a ``keras.Model``."""
    return is_instance_of(obj, "keras", "Model")


def save_model_to_dir(model: Any, path: Path) -> dict[str, Any]:
    """Write ``model`` into the existing directory ``path``; return the load options."""
    import keras

    model.save(Path(path) / "model.keras")
    return {"backend": keras.backend.backend()}


def load_model_from_dir(path: Path, options: Mapping[str, Any] | None = None) -> Any:
    """The model :func:`save_model_to_dir` wrote into ``path``, on its recorded backend."""
    options = options or {}
    if "keras" not in sys.modules and options.get("backend"):
        os.environ.setdefault("KERAS_BACKEND", options["backend"])
    import keras

    return keras.models.load_model(Path(path) / "model.keras")


class KerasModelArtifact(BaseArtifact):
    """0.x artifact: ``@artifacts([KerasModelArtifact('model')])``."""

    flavor = sys.modules[__name__]


#: The 1.x API, public as ``bentonb.keras``.
save_model, get, load_model = bind(
    sys.modules[__name__], {"predict": {"batchable": False}}, "keras")
