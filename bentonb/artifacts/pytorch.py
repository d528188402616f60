"""PytorchModelArtifact: torch.nn.Module; TorchScript when scripted, else cloudpickle.

A plain module is pickled with cloudpickle so that a class defined in a
notebook or a local ``main.py`` travels by value. Loading maps tensors to the
CPU when no GPU is available.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bentonb.artifacts.base import BaseArtifact, is_instance_of
from bentonb.artifacts.by_value import pickle_local_modules_by_value


class PytorchModelArtifact(BaseArtifact):
    framework = "pytorch"
    expected = "a PyTorch model (torch.nn.Module or a TorchScript module)"
    modules = ("torch", "cloudpickle")
    framework_module = "torch"

    def is_model(self, obj: Any) -> bool:
        return is_instance_of(obj, "torch.nn", "Module") or is_instance_of(
            obj, "torch.jit", "ScriptModule")

    def save_model(self, model: Any, directory: Path) -> dict[str, Any]:
        import cloudpickle
        import torch

        if isinstance(model, torch.jit.ScriptModule):
            torch.jit.save(model, str(directory / "model.torchscript.pt"))
            return {"format": "torchscript"}
        with pickle_local_modules_by_value(model):
            torch.save(model, directory / "model.pt", pickle_module=cloudpickle)
        return {"format": "cloudpickle"}

    def load_model(self, directory: Path, options: dict[str, Any]) -> Any:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        if options.get("format") == "torchscript":
            return torch.jit.load(str(directory / "model.torchscript.pt"), map_location=device)
        return torch.load(directory / "model.pt", map_location=device, weights_only=False)
