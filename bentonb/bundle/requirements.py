"""requirements.txt: pinned distributions inferred from imports, artifacts and ``@env``."""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import re
import sys
from collections.abc import Iterable
from pathlib import Path

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str | None:
    match = _NAME.match(line)
    return canonical(match.group(1)) if match else None


@functools.lru_cache(maxsize=1)
def _module_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def distribution_of(module: str) -> str | None:
    """The installed distribution that provides the import name ``module``."""
    if module in sys.stdlib_module_names or module in ("bentonb", "__future__"):
        return None
    dists = _module_distributions().get(module)
    return dists[0] if dists else None


def pinned(dist: str) -> str:
    try:
        return f"{dist}=={metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return dist


def build_requirements(modules: Iterable[str], user_lines: Iterable[str]) -> list[str]:
    """Pin the distributions behind ``modules``; ``user_lines`` replace entries of the
    same distribution (a bare name from the user is pinned to the installed version)."""
    result: dict[str, str] = {}
    for module in sorted(set(modules)):
        dist = distribution_of(module)
        if dist and dist != "bentonb":
            result[canonical(dist)] = pinned(dist)
    for line in user_lines:
        line = line.split("#", 1)[0].strip()
        name = requirement_name(line)
        if not line or name is None:
            continue
        bare = _NAME.match(line).group(1) == line
        result[name] = pinned(line) if bare else line
    return [result[k] for k in sorted(result)]


def read_requirements_file(path: str | Path) -> list[str]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith(("#", "-"))]
