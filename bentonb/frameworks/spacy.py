"""spaCy: a ``Language`` pipeline, saved with ``to_disk``.

Everything bentonb knows about spaCy lives here: the framework's name and
version, the type check, saving a pipeline to a directory and loading it
back, and the 0.x :class:`SpacyModelArtifact` built on those functions.
spacy is imported inside the functions only; this module never imports
``bentonb.adapters``, ``bentonb.bundle`` or ``bentonb.service``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bentonb.frameworks.base import BaseArtifact, is_instance_of, module_version
from bentonb.frameworks.model_api import bind

FRAMEWORK = "spacy"
EXPECTED = "a spaCy pipeline (spacy.language.Language)"
MODULES = ("spacy",)


def framework_version() -> str | None:
    """The installed spaCy version."""
    return module_version("spacy")


def is_model(obj: Any) -> bool:
    """True for a spaCy pipeline."""
    return is_instance_of(obj, "spacy.language", "Language")


def save_model_to_dir(model: Any, path: Path) -> dict[str, Any]:
    """Write ``model`` into the existing directory ``path``; return the load options."""
    model.to_disk(Path(path) / "pipeline")
    return {}


def load_model_from_dir(path: Path, options: Mapping[str, Any] | None = None) -> Any:
    """The pipeline :func:`save_model_to_dir` wrote into ``path``."""
    import spacy

    return spacy.load(Path(path) / "pipeline")


class SpacyModelArtifact(BaseArtifact):
    """0.x artifact: ``@artifacts([SpacyModelArtifact('nlp')])``."""

    flavor = sys.modules[__name__]


#: The 1.x API, public as ``bentonb.spacy``.
save_model, get, load_model = bind(
    sys.modules[__name__], {"__call__": {"batchable": False}}, "spacy")
