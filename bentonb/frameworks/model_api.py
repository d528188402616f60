"""The 1.x functions of a framework module: ``save_model``, ``get``, ``load_model``.

Every framework module gets the same three functions from :func:`bind`, built on
its own ``is_model``, ``save_model_to_dir`` and ``load_model_from_dir`` and on
the model store (:mod:`bentonb.models`); the public modules ``bentonb.sklearn``,
``bentonb.pytorch``, ... re-export them. :func:`load_stored` loads any stored
model by the framework its ``model.yaml`` names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from bentonb.errors import ArtifactTypeError, InvalidArgument
from bentonb.frameworks.base import describe_type
from bentonb.models import Model, ModelStore, Tag, set_runtime

#: framework name recorded in model.yaml -> the module that saved it.
_FLAVORS: dict[str, str] = {}


def flavor_of(model: Model) -> ModuleType:
    """The framework module that can load ``model``."""
    module = _FLAVORS.get(model.framework)
    if module is None:
        raise InvalidArgument(f"model {model.tag} was saved with framework "
                              f"'{model.framework}', which this bentonb does not know "
                              f"(known: {', '.join(sorted(_FLAVORS))})")
    return importlib.import_module(module)


def load_stored(model: Model) -> Any:
    """The object of a stored model, loaded by the framework that saved it."""
    return flavor_of(model).load_model_from_dir(model.path, model.info.options)


def bind(flavor: ModuleType, default_signatures: Mapping[str, Mapping[str, Any]],
         public: str) -> tuple[Callable[..., Model], Callable[..., Model], Callable[..., Any]]:
    """``(save_model, get, load_model)`` for the framework module ``flavor``, whose
    public 1.x name is ``bentonb.<public>``."""
    _FLAVORS[flavor.FRAMEWORK] = flavor.__name__

    def save_model(name: str, model: Any, *, signatures: Mapping[str, Any] | None = None,
                   labels: Mapping[str, str] | None = None,
                   custom_objects: Mapping[str, Any] | None = None,
                   metadata: Mapping[str, Any] | None = None) -> Model:
        # A flavor may declare how to take its model out of another library's wrapper.
        model = getattr(flavor, "unwrap", lambda obj: obj)(model)
        if not flavor.is_model(model):
            raise ArtifactTypeError(f"bentonb.{public}.save_model expects {flavor.EXPECTED}; "
                                    f"got {describe_type(model)}")
        return ModelStore().save(
            str(name) if isinstance(name, Tag) else name, framework=flavor.FRAMEWORK,
            write=lambda path: flavor.save_model_to_dir(model, path) or {},
            framework_versions={flavor.FRAMEWORK: flavor.framework_version()},
            signatures=signatures or default_signatures, labels=labels, metadata=metadata,
            custom_objects=custom_objects)

    def get(tag: str | Tag) -> Model:
        found = ModelStore().get(tag)
        if found.framework != flavor.FRAMEWORK:
            raise InvalidArgument(f"model {found.tag} was saved with framework "
                                  f"'{found.framework}', not {flavor.FRAMEWORK}; use the "
                                  "save_model/get of its own framework module")
        return found

    def load_model(tag: str | Tag | Model) -> Any:
        found = tag if isinstance(tag, Model) else get(tag)
        return flavor.load_model_from_dir(found.path, found.info.options)

    default = ", ".join(f"{k}: {dict(v)}" for k, v in default_signatures.items())
    save_model.__doc__ = (
        f"Save a {flavor.FRAMEWORK} model as a new version of ``name`` in the model store "
        f"and return it (``.tag``, ``.path``, ``.info``, ``.custom_objects``). "
        f"``signatures`` defaults to {{{default}}}; ``custom_objects`` are saved with "
        "cloudpickle; ``labels`` and ``metadata`` are recorded in model.yaml.")
    get.__doc__ = f"The stored {flavor.FRAMEWORK} model ``tag`` (``name[:version|latest]``)."
    load_model.__doc__ = f"The {flavor.FRAMEWORK} model object stored as ``tag``."
    for func in (save_model, get, load_model):
        func.__module__ = f"bentonb.{public}"
    return save_model, get, load_model


set_runtime(loader=load_stored)
