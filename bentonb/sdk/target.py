"""``module:attribute`` serve targets: a service defined in a ``.py`` file.

``bentonb serve bentoml_service:svc`` imports ``bentoml_service`` from the
current directory and serves its ``svc`` (a 1.x :class:`~bentonb.Service`, a
``@bentonb.service`` class, or a 0.x service class or instance). A target is a
module target only when the module file is there, so bundle tags
(``Name:version``) keep their meaning.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

from bentonb.errors import InvalidArgument
from bentonb.sdk.classes import ClassService, is_service_class

_TARGET = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*):"
                     r"([A-Za-z_][A-Za-z0-9_]*)")
#: The marker of a 0.x service class (declared by BentoService).
SERVICE_MARKER = "__bentonb_service__"


def module_target(target: str, cwd: str | Path | None = None) -> tuple[str, str] | None:
    """``(module, attribute)`` when ``target`` names a module file under ``cwd``."""
    match = _TARGET.fullmatch(target.strip())
    if match is None:
        return None
    module, attribute = match.groups()
    base = Path(cwd or Path.cwd()) / Path(*module.split("."))
    if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
        return module, attribute
    return None


def load_target(module: str, attribute: str, cwd: str | Path | None = None) -> Any:
    """Import ``module`` from ``cwd`` and return the service it names, models loaded."""
    folder = str(Path(cwd or Path.cwd()).resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    loaded = importlib.import_module(module)
    if not hasattr(loaded, attribute):
        names = [n for n in vars(loaded) if not n.startswith("_")]
        raise InvalidArgument(f"module {module} has no attribute '{attribute}' (it defines: "
                              f"{', '.join(names[:20])})")
    service = getattr(loaded, attribute)
    if is_service_class(service):  # a @bentonb.service class: its __init__ loads the models
        service = ClassService(service)
    elif isinstance(service, type) and getattr(service, SERVICE_MARKER, False) is True:
        service = service()
    if not hasattr(service, "inference_apis"):
        raise InvalidArgument(f"{module}:{attribute} is a {type(service).__name__}, not a "
                              "service: serve a bentonb.Service (svc = bentonb.Service(...)) or a "
                              "@bentonb.service class")
    if callable(getattr(service, "init_runners", None)):
        service.init_runners()
    return service
