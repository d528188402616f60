"""JSON: a JSON-serialisable object (labels, thresholds, configuration).

Everything bentonb knows about JSON values as models lives here: the type
check, saving the value to a directory and loading it back, and the 0.x
:class:`JSONArtifact` built on those functions. It has no framework version
(the standard library writes it). This module never imports
``bentonb.adapters``, ``bentonb.bundle`` or ``bentonb.service``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bentonb.frameworks.base import BaseArtifact

FRAMEWORK = "json"
EXPECTED = "a JSON-serialisable object (dict, list, str, number, bool, None)"
MODULES: tuple[str, ...] = ()


def framework_version() -> str | None:
    """None: JSON is written by the standard library."""
    return None


def is_model(obj: Any) -> bool:
    """True when ``obj`` can be written as JSON."""
    try:
        json.dumps(obj)
    except (TypeError, ValueError):
        return False
    return True


def save_model_to_dir(model: Any, path: Path) -> dict[str, Any]:
    """Write ``model`` into the existing directory ``path``; return the load options."""
    (Path(path) / "data.json").write_text(json.dumps(model), encoding="utf-8")
    return {}


def load_model_from_dir(path: Path, options: Mapping[str, Any] | None = None) -> Any:
    """The value :func:`save_model_to_dir` wrote into ``path``."""
    return json.loads((Path(path) / "data.json").read_text(encoding="utf-8"))


class JSONArtifact(BaseArtifact):
    """0.x artifact: ``@artifacts([JSONArtifact('labels')])``."""

    flavor = sys.modules[__name__]
