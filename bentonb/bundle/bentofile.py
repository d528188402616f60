"""``bentofile.yaml``: what ``bentonb build`` puts into a 1.x bundle, checked strictly.

A bentofile may come from anyone's repository, so every key is checked before
anything is imported or copied: an unknown key, a value of the wrong type, a
service that is not ``module:attribute`` of a file under the build directory,
or an include/exclude pattern that could reach outside it is refused with one
line naming the key. Reads only the bentofile; never imports the service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from bentonb.bundle.manifest import SERVICE_TARGET, SYSTEM_PACKAGE
from bentonb.errors import InvalidArgument, did_you_mean
from bentonb.tags import check_labels

BENTOFILE = "bentofile.yaml"
MAX_BENTOFILE_BYTES = 1 << 20
DEFAULT_INCLUDE = ("**/*.py",)

_KEYS: dict[str, Any] = {
    "service": str, "include": list, "exclude": list, "labels": dict,
    "python": {"packages": list, "requirements_txt": str},
    "docker": {"base_image": str, "system_packages": list},
}


@dataclass(frozen=True)
class Bentofile:
    """A checked bentofile: ``module:attribute``, patterns relative to the build
    directory, labels, Python requirements and image settings."""

    build_dir: Path
    service: str
    include: tuple[str, ...] = DEFAULT_INCLUDE
    exclude: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    packages: tuple[str, ...] = ()
    requirements_txt: Path | None = None
    base_image: str | None = None
    system_packages: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.service.split(":", 1)[0]

    @property
    def attribute(self) -> str:
        return self.service.split(":", 1)[1]

    @property
    def module_file(self) -> Path:
        """The service module's file under the build directory (checked to exist)."""
        base = self.build_dir / Path(*self.module.split("."))
        return base.with_suffix(".py") if base.with_suffix(".py").is_file() \
            else base / "__init__.py"


def _fail(where: str, key: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{where}: '{key}' {problem}")


def _check_keys(data: dict[str, Any], schema: dict[str, Any], where: str, prefix: str) -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in schema:
            raise _fail(where, name, f"is not a bentofile key (known: "
                        f"{', '.join(prefix + k for k in schema)})"
                        f"{did_you_mean(str(key), list(schema))}")
        expected = schema[key]
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise _fail(where, name, f"must be a mapping, got {type(value).__name__}")
            _check_keys(value, expected, where, f"{name}.")
        elif not isinstance(value, expected):
            raise _fail(where, name, f"must be a {expected.__name__}, got "
                        f"{type(value).__name__}")
        if expected is list and not all(isinstance(v, str) for v in value):
            raise _fail(where, name, "must be a list of strings")


def _pattern(pattern: str, where: str, key: str) -> str:
    """A glob relative to the build directory that cannot name anything outside it."""
    path = PurePosixPath(pattern)
    if not pattern or path.is_absolute() or ".." in path.parts or "\\" in pattern \
            or pattern.startswith("~"):
        raise _fail(where, key, f"pattern {pattern!r:.80} escapes the build directory: use "
                    "a relative pattern without '..', such as 'src/**/*.py'")
    return pattern


def _inside(build_dir: Path, file: Path, where: str, key: str) -> Path:
    resolved = file.resolve()
    if not resolved.is_relative_to(build_dir):
        raise _fail(where, key, f"{file} resolves outside the build directory {build_dir}")
    return resolved


def read_bentofile(build_dir: str | Path, file: str | Path | None = None) -> Bentofile:
    """Read and check the bentofile (default ``BUILD_DIR/bentofile.yaml``)."""
    build_dir = Path(build_dir).expanduser().resolve()
    if not build_dir.is_dir():
        raise InvalidArgument(f"build directory {build_dir} does not exist")
    path = Path(file).expanduser() if file is not None else build_dir / BENTOFILE
    if not path.is_absolute() and file is not None and not path.exists():
        path = build_dir / path
    if not path.is_file():
        raise InvalidArgument(f"no bentofile at {path}: write one with at least "
                              "service: \"module:svc\"")
    if path.stat().st_size > MAX_BENTOFILE_BYTES:
        raise InvalidArgument(f"{path} is larger than {MAX_BENTOFILE_BYTES} bytes")
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeError) as exc:
        raise InvalidArgument(f"{where} is not valid YAML: "
                              f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{where} must be a mapping with at least service: \"module:svc\"")
    _check_keys(data, _KEYS, where, "")
    service = data.get("service")
    if service is None:
        raise _fail(where, "service", "is missing: name the service as \"module:svc\"")
    if not SERVICE_TARGET.match(service):
        raise _fail(where, "service", f"{service!r:.80} is not module:attribute, e.g. "
                    "\"service:svc\"")
    python, docker = data.get("python") or {}, data.get("docker") or {}
    try:
        labels = check_labels(data.get("labels"))
    except InvalidArgument as exc:
        raise _fail(where, "labels", str(exc)) from None
    requirements = python.get("requirements_txt")
    if requirements is not None:
        requirements = _inside(build_dir, build_dir / _pattern(
            requirements, where, "python.requirements_txt"), where, "python.requirements_txt")
        if not requirements.is_file():
            raise _fail(where, "python.requirements_txt", f"{requirements} is not a file")
    for package in python.get("packages", []):
        if not package.strip() or any(ord(c) < 32 for c in package):
            raise _fail(where, "python.packages", f"entry {package!r:.80} is not one "
                        "requirement line such as scikit-learn==1.5.0")
    base = docker.get("base_image")
    if base is not None and (not base or any(c.isspace() or ord(c) < 32 for c in base)):
        raise _fail(where, "docker.base_image", f"{base!r:.80} is not one image name")
    for package in docker.get("system_packages", []):
        if not SYSTEM_PACKAGE.match(package):
            raise _fail(where, "docker.system_packages", f"entry {package!r:.80} is not a "
                        "Debian package name such as libgomp1")
    checked = Bentofile(
        build_dir, service,
        tuple(_pattern(p, where, "include") for p in data.get("include", DEFAULT_INCLUDE)),
        tuple(_pattern(p, where, "exclude") for p in data.get("exclude", [])),
        labels, tuple(python.get("packages", [])),
        requirements, base, tuple(docker.get("system_packages", [])))
    if not checked.module_file.is_file():
        raise _fail(where, "service", f"module {checked.module!r} is not a file under the "
                    f"build directory {build_dir} (expected {checked.module_file})")
    _inside(build_dir, checked.module_file, where, "service")
    return checked
