"""The bundle manifest (``bento.yaml``): what a bundle is, in one typed structure.

A manifest read from disk comes from anywhere (an archive, a copied directory),
so :meth:`BundleManifest.from_dict` checks every field that later becomes a
path, a module name or a line of a generated file, before anyone uses it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from bentonb.errors import BundleError, InvalidArgument
from bentonb.store import MANIFEST_FILE, MAX_MANIFEST_BYTES
from bentonb.tags import check_labels, check_name, check_version

__all__ = ["MANIFEST_FILE", "ApiSpec", "ArtifactSpec", "BundleManifest", "EnvInfo"]

#: One directory name: no separator, no ``..``, not hidden.
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
#: ``module.path:attribute`` of a 1.x bundle's service.
SERVICE_TARGET = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*):"
                      r"([A-Za-z_][A-Za-z0-9_]*)$")
#: A Debian package name (``docker.system_packages``): it becomes a word of the Dockerfile.
SYSTEM_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]{0,99}$")
#: The bundle kinds: a 0.x BentoService class, or a 1.x ``bentonb.Service`` object.
KINDS = ("0.x", "1.x")


@dataclass
class ApiSpec:
    name: str
    route: str
    input_type: str
    output_type: str
    batch: bool
    mb_max_batch_size: int
    mb_max_latency: float
    doc: str = ""
    input_config: dict[str, Any] = field(default_factory=dict)
    output_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class ArtifactSpec:
    name: str
    type: str
    framework: str = ""
    framework_version: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class EnvInfo:
    pip_packages: list[str] = field(default_factory=list)
    infer_pip_packages: bool = True
    docker_base_image: str | None = None
    setup_sh: str | None = None
    #: Debian packages the image installs with apt-get (``docker.system_packages``).
    system_packages: list[str] = field(default_factory=list)


@dataclass
class BundleManifest:
    """Everything ``bento.yaml`` records about a saved service."""

    name: str
    version: str
    created_at: str
    module: str
    bentonb_version: str
    python_version: str
    labels: dict[str, str] = field(default_factory=dict)
    apis: list[ApiSpec] = field(default_factory=list)
    artifacts: list[ArtifactSpec] = field(default_factory=list)
    env: EnvInfo = field(default_factory=EnvInfo)
    #: The directory, inside the package directory, of the files the web server serves
    #: at ``/`` (``@web_static_content``); None when the service has none.
    web_static_content: str | None = None
    #: ``0.x`` (a BentoService class named ``name`` in ``module``) or ``1.x`` (the
    #: ``bentonb.Service`` object ``service`` names, its files under ``<package>/src``).
    kind: str = "0.x"
    #: 1.x: ``module:attribute`` of the service object (``module`` is its module part).
    service: str | None = None
    #: 1.x: the ``name:version`` tags of the models under ``<package>/models``.
    models: list[str] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def package(self) -> str:
        """The package directory's name: the name as a Python identifier (a 1.x service
        may be called ``sklearn-model``; its package is ``sklearn_model``)."""
        package = re.sub(r"\W", "_", self.name)
        return package if package.isidentifier() else f"_{package}"

    @property
    def attribute(self) -> str | None:
        """1.x: the name of the service object in its module."""
        return self.service.split(":", 1)[1] if self.service else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True),
                        encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleManifest:
        """A checked manifest; a malformed or unsafe one is a :class:`BundleError`."""
        try:
            known = {f.name for f in fields(cls)}
            values = {k: v for k, v in data.items() if k in known}
            values["apis"] = [ApiSpec(**a) for a in data.get("apis") or []]
            values["artifacts"] = [ArtifactSpec(**a) for a in data.get("artifacts") or []]
            values["env"] = EnvInfo(**(data.get("env") or {}))
            values["labels"] = check_labels(data.get("labels"))
            manifest = cls(**values)
            manifest.check()
            return manifest
        except (TypeError, InvalidArgument) as exc:
            raise BundleError(f"bundle manifest is refused: {exc}") from exc

    def check(self) -> None:
        """Raise :class:`InvalidArgument` for a field that could name something outside
        the bundle or inject into a generated file."""
        check_name(self.name)
        check_version(self.version)
        if self.kind not in KINDS:
            raise InvalidArgument(f"invalid kind {self.kind!r:.40}: one of {', '.join(KINDS)}")
        if self.kind == "1.x":
            match = SERVICE_TARGET.match(self.service) if isinstance(self.service, str) else None
            if match is None or match.group(1) != self.module:
                raise InvalidArgument(f"invalid service {self.service!r:.80}: module:attribute "
                                      f"of the service object, its module {self.module!r:.80}")
            if not isinstance(self.models, list):
                raise InvalidArgument("models must be a list of name:version tags")
            for tag in self.models:
                name, _, version = str(tag).partition(":")
                check_name(name, "model")
                check_version(version, "model")
        elif not isinstance(self.module, str) or not self.module.isidentifier():
            raise InvalidArgument(f"invalid service module {self.module!r}: it must be a "
                                  "plain Python identifier such as iris_classifier")
        for art in self.artifacts:
            if not isinstance(art.name, str) or not art.name.isidentifier():
                raise InvalidArgument(f"invalid artifact name {art.name!r}: it must be a "
                                      "Python identifier such as model")
        _check_text(self.created_at, "created_at")
        static = self.web_static_content
        if static is not None and not (isinstance(static, str) and _PLAIN_NAME.match(static)):
            raise InvalidArgument(f"invalid web_static_content {static!r:.80}: the name of a "
                                  "directory inside the bundle, such as web_static_content")
        for package in self.env.pip_packages:
            _check_text(package, "env.pip_packages entry")
        for word, what in [(self.env.docker_base_image, "env.docker_base_image"),
                           (self.env.setup_sh, "env.setup_sh")]:
            if word is not None:
                _check_text(word, what, spaces=False)
        for package in self.env.system_packages:
            if not isinstance(package, str) or not SYSTEM_PACKAGE.match(package):
                raise InvalidArgument(f"invalid env.system_packages entry {package!r:.80}: a "
                                      "Debian package name such as libgomp1")

    @classmethod
    def read(cls, bundle_dir: Path) -> BundleManifest:
        """Read and check ``bundle_dir/bento.yaml``."""
        path = bundle_dir / MANIFEST_FILE
        if not path.is_file():
            raise BundleError(f"{bundle_dir} is not a bentonb bundle: it has no {MANIFEST_FILE}")
        if path.is_symlink():
            raise BundleError(f"{path} is refused: the manifest is a link")
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise BundleError(f"{path} is refused: larger than {MAX_MANIFEST_BYTES} bytes")
        try:
            return cls.parse(path.read_text(encoding="utf-8"), str(path))
        except UnicodeError as exc:
            raise BundleError(f"{path} is not UTF-8 text: {exc}") from exc

    @classmethod
    def parse(cls, text: str, where: str) -> BundleManifest:
        """A checked manifest from the YAML ``text`` of file ``where``."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BundleError(f"{where} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise BundleError(f"{where} does not hold a manifest mapping")
        try:
            return cls.from_dict(data)
        except BundleError as exc:
            raise BundleError(f"{where}: {exc}") from exc


def _check_text(text: Any, what: str, spaces: bool = True) -> None:
    """One line of text (generated files embed it): no control characters."""
    if not isinstance(text, str) or any(ord(c) < 32 or ord(c) == 127 for c in text) \
            or (not spaces and (not text or " " in text)):
        raise InvalidArgument(f"invalid {what} {text!r:.80}: one line of text"
                              f"{'' if spaces else ' without spaces'}")
