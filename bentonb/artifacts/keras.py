"""KerasModelArtifact: a Keras 3 model in the native ``.keras`` format.

The backend the model was packed with (torch, jax, tensorflow) is recorded and
selected again at load time when Keras has not been imported yet.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from bentonb.artifacts.base import BaseArtifact, is_instance_of


class KerasModelArtifact(BaseArtifact):
    framework = "keras"
    expected = "a Keras model (keras.Model)"
    modules = ("keras",)
    framework_module = "keras"

    def is_model(self, obj: Any) -> bool:
        return is_instance_of(obj, "keras", "Model")

    def save_model(self, model: Any, directory: Path) -> dict[str, Any]:
        import keras

        model.save(directory / "model.keras")
        return {"backend": keras.backend.backend()}

    def load_model(self, directory: Path, options: dict[str, Any]) -> Any:
        if "keras" not in sys.modules and options.get("backend"):
            os.environ.setdefault("KERAS_BACKEND", options["backend"])
        import keras

        return keras.models.load_model(directory / "model.keras")
