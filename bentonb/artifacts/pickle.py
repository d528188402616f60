"""PickleArtifact: any Python object, saved with cloudpickle (classes from a notebook too)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from bentonb.artifacts.base import BaseArtifact
from bentonb.artifacts.by_value import pickle_local_modules_by_value


class PickleArtifact(BaseArtifact):
    framework = "cloudpickle"
    expected = "any picklable object"
    modules = ("cloudpickle",)

    def is_model(self, obj: Any) -> bool:
        return True

    def save_model(self, model: Any, directory: Path) -> None:
        import cloudpickle

        with pickle_local_modules_by_value(model), open(directory / "model.pkl", "wb") as f:
            cloudpickle.dump(model, f)

    def load_model(self, directory: Path, options: dict[str, Any]) -> Any:
        with open(directory / "model.pkl", "rb") as f:
            return pickle.load(f)
