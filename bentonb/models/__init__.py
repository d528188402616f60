"""The model store (1.x API): ``$BENTONB_HOME/models/<name>/<version>/``.

Each version is a directory holding ``model.yaml`` (name, version, framework,
framework versions, signatures, labels, metadata, created_at, load options)
and the files its framework wrote. As with bundles, the file system is the
source of truth, and a model appears whole or not at all. Four modules, one job
each: :mod:`~bentonb.models.info` (the ``model.yaml`` format and its checks),
:mod:`~bentonb.models.model` (one stored version, and :func:`set_runtime`, through
which the layers above install ``load_model`` and ``to_runner``; a hook not yet
installed at first use is installed by importing the module that provides it),
:mod:`~bentonb.models.model_store` (the directories, archives and bundle-first
lookups) and :mod:`~bentonb.models.lookup` (``get``/``list``/... and
:class:`BentoModel`). Every name this module offered before the split is
re-exported here. Nothing in this package imports more than :mod:`bentonb.tags`,
:mod:`bentonb.errors` and :mod:`bentonb.safetar` from bentonb.
"""

from bentonb.models.info import (
    CUSTOM_OBJECTS_FILE,
    MAX_MODEL_FILE_BYTES,
    MODEL_FILE,
    ModelInfo,
    check_signatures,
)
from bentonb.models.lookup import BentoModel, delete, export_model, get, import_model, list
from bentonb.models.model import Model, set_runtime
from bentonb.models.model_store import ModelStore, models_of_bundle
from bentonb.tags import Tag

__all__ = [
    "CUSTOM_OBJECTS_FILE",
    "MAX_MODEL_FILE_BYTES",
    "MODEL_FILE",
    "BentoModel",
    "Model",
    "ModelInfo",
    "ModelStore",
    "Tag",
    "check_signatures",
    "delete",
    "export_model",
    "get",
    "import_model",
    "list",
    "models_of_bundle",
    "set_runtime",
]
