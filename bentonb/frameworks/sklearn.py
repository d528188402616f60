"""scikit-learn: estimators and pipelines, saved with joblib.

Everything bentonb knows about scikit-learn lives here: the framework's name
and version, the type check, saving a model to a directory and loading it
back, and the 0.x :class:`SklearnModelArtifact` built on those functions.
sklearn and joblib are imported inside the functions only; this module never
imports ``bentonb.adapters``, ``bentonb.bundle`` or ``bentonb.service``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bentonb.frameworks.base import BaseArtifact, is_instance_of, module_version
from bentonb.frameworks.model_api import bind

FRAMEWORK = "scikit-learn"
EXPECTED = "a scikit-learn estimator (sklearn.base.BaseEstimator)"
MODULES = ("sklearn", "joblib")


def framework_version() -> str | None:
    """The installed scikit-learn version."""
    return module_version("sklearn")


def is_model(obj: Any) -> bool:
    """True for a scikit-learn estimator or pipeline."""
    return is_instance_of(obj, "sklearn.base", "BaseEstimator")


def unwrap(obj: Any) -> Any:
    """The estimator inside MLflow's sklearn pyfunc wrapper (``mlflow.pyfunc.load_model(
    uri)._model_impl`` holds it as ``sklearn_model`` since MLflow 2), else ``obj``."""
    inner = getattr(obj, "sklearn_model", None)
    return inner if inner is not None and is_model(inner) else obj


def save_model_to_dir(model: Any, path: Path) -> dict[str, Any]:
    """Write ``model`` into the existing directory ``path``; return the load options."""
    import joblib

    joblib.dump(model, Path(path) / "model.joblib")
    return {}


def load_model_from_dir(path: Path, options: Mapping[str, Any] | None = None) -> Any:
    """The model :func:`save_model_to_dir` wrote into ``path``."""
    import joblib

    return joblib.load(Path(path) / "model.joblib")


class SklearnModelArtifact(BaseArtifact):
    """0.x artifact: ``@artifacts([SklearnModelArtifact('model')])``."""

    flavor = sys.modules[__name__]


#: The 1.x API, public as ``bentonb.sklearn``.
save_model, get, load_model = bind(
    sys.modules[__name__], {"predict": {"batchable": False}}, "sklearn")
