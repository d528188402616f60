"""fastai: a ``fastai.learner.Learner``, saved with ``Learner.export`` (one pickle file).

Everything bentonb knows about fastai lives here, in the same shape as the other
framework modules: the framework's name and version, the type check, saving a
learner to a directory and loading it back, and the 0.x
:class:`FastaiModelArtifact`. fastai is imported inside the functions only; where
it is not installed, packing or loading a learner raises :class:`MissingDependency`
saying how to install it (fastai needs a torchvision built for the installed torch).
This module never imports ``bentonb.adapters``, ``bentonb.bundle`` or
``bentonb.service``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bentonb.errors import MissingDependency
from bentonb.frameworks.base import BaseArtifact, is_instance_of, module_version

FRAMEWORK = "fastai"
EXPECTED = "a fastai Learner (fastai.learner.Learner)"
MODULES = ("fastai", "torch")
FILE = "learner.pkl"
INSTALL = ("pip install fastai (it also needs torchvision built for your torch, e.g. from "
           "https://download.pytorch.org/whl/cpu for a CPU-only torch)")


def _learner_module() -> Any:
    """``fastai.learner``, or :class:`MissingDependency` naming what to install."""
    try:
        import fastai.learner
    except ImportError as exc:
        raise MissingDependency(f"FastaiModelArtifact needs fastai, which is not installed "
                                f"here ({exc}): {INSTALL}") from exc
    return fastai.learner


def framework_version() -> str | None:
    """The installed fastai version (None when fastai is not installed)."""
    return module_version("fastai")


def is_model(obj: Any) -> bool:
    """True for a fastai ``Learner`` (never true while fastai was not imported)."""
    return is_instance_of(obj, "fastai.learner", "Learner")


def save_model_to_dir(model: Any, path: Path) -> dict[str, Any]:
    """Export the learner into the existing directory ``path``; return the load options."""
    _learner_module()
    model.export(Path(path) / FILE)
    return {"format": "export"}


def load_model_from_dir(path: Path, options: Mapping[str, Any] | None = None) -> Any:
    """The learner :func:`save_model_to_dir` wrote into ``path``, on the CPU unless a GPU
    is available."""
    learner = _learner_module()
    import torch

    return learner.load_learner(Path(path) / FILE, cpu=not torch.cuda.is_available())


class FastaiModelArtifact(BaseArtifact):
    """0.x artifact: ``@artifacts([FastaiModelArtifact('learner')])``. Declaring it needs
    no fastai; packing or loading a learner does."""

    framework = FRAMEWORK
    expected = EXPECTED
    modules = MODULES

    def is_model(self, obj: Any) -> bool:
        _learner_module()  # a missing fastai is said as such, not as a wrong type
        return is_model(obj)

    def save_model(self, model: Any, directory: Path) -> dict[str, Any]:
        return save_model_to_dir(model, directory)

    def load_model(self, directory: Path, options: dict[str, Any]) -> Any:
        return load_model_from_dir(directory, options)

    def framework_version(self) -> str | None:
        return framework_version()
