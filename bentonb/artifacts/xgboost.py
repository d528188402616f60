"""XgboostModelArtifact: an XGBoost Booster or scikit-learn wrapper, native JSON format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bentonb.artifacts.base import BaseArtifact, is_instance_of


class XgboostModelArtifact(BaseArtifact):
    framework = "xgboost"
    expected = "an XGBoost model (xgboost.Booster or xgboost.XGBModel)"
    modules = ("xgboost",)
    framework_module = "xgboost"

    def is_model(self, obj: Any) -> bool:
        return is_instance_of(obj, "xgboost", "Booster", "XGBModel")

    def save_model(self, model: Any, directory: Path) -> dict[str, Any]:
        model.save_model(str(directory / "model.json"))
        return {"class": type(model).__name__}

    def load_model(self, directory: Path, options: dict[str, Any]) -> Any:
        import xgboost

        model = getattr(xgboost, options.get("class", "Booster"))()
        model.load_model(str(directory / "model.json"))
        return model
