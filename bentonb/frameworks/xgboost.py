"""XGBoost: a ``Booster`` or a scikit-learn wrapper, in XGBoost's native JSON format.

Everything bentonb knows about XGBoost lives here: the framework's name and
version, the type check, saving a model to a directory and loading it back,
and the 0.x :class:`XgboostModelArtifact` built on those functions. The
model's XGBoost class (``Booster``, ``XGBClassifier``, ...) is recorded so the
same class is rebuilt at load time. xgboost is imported inside the functions
only; this module never imports ``bentonb.adapters``, ``bentonb.bundle`` or
``bentonb.service``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bentonb.errors import BundleError
from bentonb.frameworks.base import BaseArtifact, is_instance_of, module_version
from bentonb.frameworks.model_api import bind

FRAMEWORK = "xgboost"
EXPECTED = "an XGBoost model (xgboost.Booster or xgboost.XGBModel)"
MODULES = ("xgboost",)


def framework_version() -> str | None:
    """The installed XGBoost version."""
    return module_version("xgboost")


def is_model(obj: Any) -> bool:
    """True for an ``xgboost.Booster`` or ``xgboost.XGBModel`` (XGBClassifier, ...)."""
    return is_instance_of(obj, "xgboost", "Booster", "XGBModel")


def save_model_to_dir(model: Any, path: Path) -> dict[str, Any]:
    """Write ``model`` into the existing directory ``path``; return the load options."""
    model.save_model(str(Path(path) / "model.json"))
    return {"class": type(model).__name__}


def load_model_from_dir(path: Path, options: Mapping[str, Any] | None = None) -> Any:
    """The model :func:`save_model_to_dir` wrote into ``path``, as the class it was saved as."""
    import xgboost

    name = (options or {}).get("class", "Booster")
    cls = getattr(xgboost, name, None) if isinstance(name, str) else None
    # The class name comes from a manifest: only build XGBoost's own model classes.
    if not (isinstance(cls, type) and issubclass(cls, (xgboost.Booster, xgboost.XGBModel))):
        raise BundleError(f"xgboost model class {name!r} is not an XGBoost model class "
                          "(expected Booster, XGBClassifier, XGBRegressor, ...)")
    model = cls()
    model.load_model(str(Path(path) / "model.json"))
    return model


class XgboostModelArtifact(BaseArtifact):
    """0.x artifact: ``@artifacts([XgboostModelArtifact('model')])``."""

    flavor = sys.modules[__name__]


#: The 1.x API, public as ``bentonb.xgboost``.
save_model, get, load_model = bind(
    sys.modules[__name__], {"predict": {"batchable": False}}, "xgboost")
