"""PyTorch: a ``torch.nn.Module``; TorchScript when scripted, else cloudpickle.

Everything bentonb knows about PyTorch lives here: the framework's name and
version, the type check, saving a model to a directory and loading it back,
and the 0.x :class:`PytorchModelArtifact` built on those functions. A plain
module is pickled with cloudpickle so that a class defined in a notebook or a
local ``main.py`` travels by value; loading maps tensors to the CPU when no
GPU is available. torch is imported inside the functions only; this module
never imports ``bentonb.adapters``, ``bentonb.bundle`` or ``bentonb.service``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bentonb.frameworks.base import (
    BaseArtifact,
    is_instance_of,
    module_version,
    pickle_local_modules_by_value,
)
from bentonb.frameworks.model_api import bind

FRAMEWORK = "pytorch"
EXPECTED = "a PyTorch model (torch.nn.Module or a TorchScript module)"
MODULES = ("torch", "cloudpickle")


def framework_version() -> str | None:
    """The installed PyTorch version."""
    return module_version("torch")


def is_model(obj: Any) -> bool:
    """True for a ``torch.nn.Module`` or a TorchScript module."""
    return is_instance_of(obj, "torch.nn", "Module") or is_instance_of(
        obj, "torch.jit", "ScriptModule")


def save_model_to_dir(model: Any, path: Path) -> dict[str, Any]:
    """Write ``model`` into the existing directory ``path``; return the load options."""
    import cloudpickle
    import torch

    path = Path(path)
    if isinstance(model, torch.jit.ScriptModule):
        torch.jit.save(model, str(path / "model.torchscript.pt"))
        return {"format": "torchscript"}
    with pickle_local_modules_by_value(model):
        torch.save(model, path / "model.pt", pickle_module=cloudpickle)
    return {"format": "cloudpickle"}


def load_model_from_dir(path: Path, options: Mapping[str, Any] | None = None) -> Any:
    """The model :func:`save_model_to_dir` wrote into ``path``, on the GPU when there is one."""
    import torch

    path = Path(path)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if (options or {}).get("format") == "torchscript":
        return torch.jit.load(str(path / "model.torchscript.pt"), map_location=device)
    return torch.load(path / "model.pt", map_location=device, weights_only=False)


class PytorchModelArtifact(BaseArtifact):
    """0.x artifact: ``@artifacts([PytorchModelArtifact('net')])``."""

    flavor = sys.modules[__name__]


#: The 1.x API, public as ``bentonb.pytorch``.
save_model, get, load_model = bind(
    sys.modules[__name__], {"__call__": {"batchable": False}}, "pytorch")
