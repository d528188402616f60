"""MLflow models: import one from an MLflow model URI into the model store, load it
back as an MLflow pyfunc model.

``import_model`` copies the MLflow model's files (``runs:/...``, ``models:/...``, a
local directory) into ``<model>/mlflow_model``; ``load_model`` gives
``mlflow.pyfunc.load_model`` of that copy, so ``.predict(df)`` works whatever
flavor MLflow saved. mlflow (``mlflow-skinny`` is enough) is imported inside the
functions only: without it they raise :class:`MissingDependency` naming the extra.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bentonb.errors import ArtifactTypeError, InvalidArgument, require
from bentonb.frameworks.model_api import bind
from bentonb.models import Model, ModelStore

FRAMEWORK = "mlflow"
EXPECTED = "an MLflow model URI (use bentonb.mlflow.import_model)"
MODULES = ("mlflow",)
#: Where the MLflow model's own files live inside the stored model's directory.
MLFLOW_DIR = "mlflow_model"
DEFAULT_SIGNATURES = {"predict": {"batchable": False}}


def _mlflow() -> Any:
    return require("mlflow", "mlflow")


def framework_version() -> str | None:
    return getattr(sys.modules.get("mlflow"), "__version__", None)


def is_model(obj: Any) -> bool:
    return False  # MLflow models come in through import_model, never as objects


def save_model_to_dir(model: Any, path: Path) -> dict[str, Any]:
    raise ArtifactTypeError("MLflow models are added with bentonb.mlflow.import_model(name, "
                            "model_uri)")


def load_model_from_dir(path: Path, options: Mapping[str, Any] | None = None) -> Any:
    """The MLflow pyfunc model stored in ``path``."""
    return _mlflow().pyfunc.load_model(str(Path(path) / MLFLOW_DIR))


def import_model(name: str, model_uri: str, *, signatures: Mapping[str, Any] | None = None,
                 labels: Mapping[str, str] | None = None,
                 custom_objects: Mapping[str, Any] | None = None,
                 metadata: Mapping[str, Any] | None = None) -> Model:
    """Copy the MLflow model at ``model_uri`` into the store as a new version of ``name``
    and return it; ``signatures`` defaults to ``{"predict": {"batchable": False}}``."""
    mlflow = _mlflow()  # before anything is written: no half-imported model is left

    def write(path: Path) -> dict[str, Any]:
        # MLflow puts a run's artifact under its own name (``runs:/ID/model`` lands in
        # ``dst/model``) but a registered version's files straight into ``dst``: where
        # it put them is what it returns.
        staging = path / "_download"
        try:
            found = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri,
                                                             dst_path=str(staging)))
        except Exception as exc:  # MLflow raises its own types, and OSError for paths
            raise InvalidArgument(f"cannot download the MLflow model {model_uri!r}: "
                                  f"{exc}") from exc
        if not (found / "MLmodel").is_file():
            raise InvalidArgument(f"{model_uri!r} is not an MLflow model (no MLmodel file "
                                  "in it); give the URI of a logged model, e.g. "
                                  "runs:/<run_id>/model or models:/<name>/<version>")
        found.rename(path / MLFLOW_DIR)
        shutil.rmtree(staging, ignore_errors=True)
        return {}

    return ModelStore().save(
        name, framework=FRAMEWORK, write=write,
        framework_versions={FRAMEWORK: getattr(mlflow, "__version__", None)},
        signatures=signatures or DEFAULT_SIGNATURES, labels=labels,
        metadata={"model_uri": model_uri, **dict(metadata or {})},
        custom_objects=custom_objects)


_save_model, get, load_model = bind(sys.modules[__name__], DEFAULT_SIGNATURES, "mlflow")
