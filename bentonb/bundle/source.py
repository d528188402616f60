"""Find the source code of a service class, to put into its bundle.

A class from a ``.py`` file is captured by its module file, plus the sibling
local modules that file imports. A class defined in a notebook cell has no
file: ``%%bento_service`` records the cell's source on the class with
:func:`record_service_source`.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bentonb.errors import SourceCaptureError

_SOURCE_ATTR = "__bentonb_source__"


@dataclass(frozen=True)
class CapturedSource:
    """The service module's name and source, and the local modules it needs."""

    module: str
    source: str
    local_files: dict[str, str]  # relative path in the bundle package -> source text


def record_service_source(cls: type, source: str) -> None:
    """Remember the source that defines ``cls`` (a notebook cell's text)."""
    if not isinstance(source, str) or cls.__name__ not in source:
        raise SourceCaptureError(f"the recorded source does not define {cls.__name__}")
    setattr(cls, _SOURCE_ATTR, source)


def snake_case(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or
                                    (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def capture_source(cls: type) -> CapturedSource:
    recorded = cls.__dict__.get(_SOURCE_ATTR)
    if recorded is not None:
        return CapturedSource(f"{snake_case(cls.__name__)}_service", recorded, {})
    if "<locals>" in cls.__qualname__:
        raise SourceCaptureError(
            f"{cls.__name__} is defined inside a function ({cls.__qualname__}); define the "
            "service class at the top level of its module so the bundle can import it")
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if not path or not Path(path).is_file() or not path.endswith(".py"):
        raise SourceCaptureError(
            f"cannot find the source of {cls.__name__}: it was defined in an interactive "
            "session (a notebook cell) with no file. Run `%load_ext bentonb` and define the "
            "class in a `%%bento_service` cell, or move it to a .py file and import it"
        )
    file = Path(path).resolve()
    name = file.stem if cls.__module__ == "__main__" else cls.__module__.rsplit(".", 1)[-1]
    if not name.isidentifier():  # a script such as my-service.py: the bundle imports it by name
        name = re.sub(r"\W", "_", name)
        name = name if name.isidentifier() else f"_{name}"
    source = file.read_text(encoding="utf-8")
    return CapturedSource(name, source, _local_imports(file.parent, source, {file}))


def _local_imports(folder: Path, source: str, seen: set[Path]) -> dict[str, str]:
    """Modules and packages next to the service file that it imports, recursively."""
    found: dict[str, str] = {}
    for top in sorted(imported_top_level_names(source)):
        candidates = [folder / f"{top}.py"]
        package = folder / top
        if (package / "__init__.py").is_file():
            candidates = sorted(package.rglob("*.py"))
        for file in candidates:
            file = file.resolve()
            if not file.is_file() or file in seen or "__pycache__" in file.parts:
                continue
            seen.add(file)
            text = file.read_text(encoding="utf-8")
            found[str(file.relative_to(folder.resolve()))] = text
            found.update(_local_imports(folder, text, seen))
    return found


def imported_top_level_names(source: str) -> set[str]:
    """Top-level names of the absolute imports in ``source`` (``sklearn`` for
    ``from sklearn.svm import SVC``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise SourceCaptureError(f"service source does not parse: {exc}") from exc
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names
