"""SklearnModelArtifact: scikit-learn estimators and pipelines, saved with joblib."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bentonb.artifacts.base import BaseArtifact, is_instance_of


class SklearnModelArtifact(BaseArtifact):
    framework = "scikit-learn"
    expected = "a scikit-learn estimator (sklearn.base.BaseEstimator)"
    modules = ("sklearn", "joblib")
    framework_module = "sklearn"

    def is_model(self, obj: Any) -> bool:
        return is_instance_of(obj, "sklearn.base", "BaseEstimator")

    def save_model(self, model: Any, directory: Path) -> None:
        import joblib

        joblib.dump(model, directory / "model.joblib")

    def load_model(self, directory: Path, options: dict[str, Any]) -> Any:
        import joblib

        return joblib.load(directory / "model.joblib")
