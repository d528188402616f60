"""The 1.x model functions (``bentonb.models.get``, ``list``, ``delete``,
``export_model``, ``import_model``) and :class:`BentoModel`, a tag resolved on use.

Owns the short paths from a tag to the default store (``$BENTONB_HOME``); every
one is a call on :class:`~bentonb.models.model_store.ModelStore`. It must never
import a framework, the sdk or anything above the bottom layer.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

from bentonb.models.model import Model
from bentonb.models.model_store import ModelStore
from bentonb.tags import Tag, parse_tag


class BentoModel:
    """A stored model named as a class attribute of a ``@bentonb.service`` class:
    ``model = BentoModel("iris:latest")``. Reading the attribute gives the stored
    :class:`Model` (``.path``, ``.load_model()``, ``bentonb.sklearn.load_model(...)``);
    the tag is resolved on first read and then kept, so ``latest`` means the version
    that was latest when the service first used it."""

    def __init__(self, tag: str | Tag) -> None:
        parse_tag(str(tag), "model")  # a malformed tag fails where the class is defined
        self.tag = str(tag)
        self._model: Model | None = None

    def __repr__(self) -> str:
        return f'BentoModel("{self.tag}")'

    def resolve(self) -> Model:
        """The stored model (:class:`NotFound` naming the tag when it is not stored)."""
        if self._model is None:
            self._model = ModelStore().get(self.tag)
        return self._model

    def __get__(self, instance: Any, owner: type | None = None) -> Model:
        return self.resolve()


def get(tag: str | Tag) -> Model:
    """The stored model ``tag`` (``name``, ``name:latest`` or ``name:version``)."""
    return ModelStore().get(tag)


def list(name: str | None = None) -> builtins.list[Model]:  # noqa: A001 - the 1.x name
    """Every stored model (of ``name``), oldest first."""
    return ModelStore().list(name)


def delete(tag: str | Tag) -> None:
    """Delete a stored model version (or every version of a bare name)."""
    ModelStore().delete(tag)


def export_model(tag: str | Tag, path: str | Path) -> str:
    """Write a stored model as an archive; return its path."""
    return str(ModelStore().export_model(tag, path))


def import_model(path: str | Path) -> Model:
    """Add the model in an archive to the store."""
    return ModelStore().import_model(path)
