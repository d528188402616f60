"""The model store (1.x API): ``$BENTONB_HOME/models/<name>/<version>/``.

Each version is a directory holding ``model.yaml`` (name, version, framework,
framework versions, signatures, labels, metadata, created_at, load options)
and the files its framework wrote. As with bundles, the file system is the
source of truth, and a model appears whole or not at all: it is written into a
hidden temporary directory inside the store, flushed to disk, and renamed into
place. Names and versions follow :mod:`bentonb.tags`. This module imports only
:mod:`bentonb.tags`, :mod:`bentonb.errors` and :mod:`bentonb.safetar`; what
needs a framework or a runner (``load_model``, ``to_runner``) is installed by
the layers above through :func:`set_runtime`.
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import datetime
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bentonb import safetar
from bentonb._version import __version__
from bentonb.errors import BentonbError, BundleError, InvalidArgument, NotFound, did_you_mean
from bentonb.tags import Tag, check_labels, check_name, check_version, new_version, parse_tag

MODEL_FILE = "model.yaml"
CUSTOM_OBJECTS_FILE = "custom_objects.pkl"
MAX_MODEL_FILE_BYTES = 1 << 20
_SIGNATURE_KEYS = ("batchable", "batch_dim", "input_spec", "output_spec")
#: Folders (each holding a ``models/`` folder laid out as a store) searched before the
#: store while a bundle's service is being loaded: a 1.x bundle's own models. Scoped to
#: the loading context by :func:`models_of_bundle`, never set for good.
_BUNDLE_HOMES: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar(
    "bentonb_bundle_model_homes", default=())
#: Set by the layers above: how a stored model becomes a runner, and an object again.
_RUNTIME: dict[str, Callable[..., Any] | None] = {"runner": None, "loader": None}


def set_runtime(runner: Callable[..., Any] | None = None,
                loader: Callable[[Model], Any] | None = None) -> None:
    """Install ``runner(model, **options)`` behind :meth:`Model.to_runner` and
    ``loader(model)`` behind :meth:`Model.load_model` (the sdk and frameworks do)."""
    if runner is not None:
        _RUNTIME["runner"] = runner
    if loader is not None:
        _RUNTIME["loader"] = loader


def check_signatures(signatures: Any, where: str = "signatures") -> dict[str, dict[str, Any]]:
    """``{"predict": {"batchable": False, "batch_dim": 0}}``, checked and completed."""
    if not isinstance(signatures, Mapping) or not signatures:
        raise InvalidArgument(f"{where} must be a non-empty dict such as "
                              f"{{'predict': {{'batchable': False}}}}, got {signatures!r:.80}")
    checked: dict[str, dict[str, Any]] = {}
    for method, options in signatures.items():
        if not isinstance(method, str) or not method.isidentifier():
            raise InvalidArgument(f"{where}: method name must be an identifier, got {method!r}")
        options = dict(options or {})
        unknown = [k for k in options if k not in _SIGNATURE_KEYS]
        if unknown:
            raise InvalidArgument(f"{where}['{method}'] has unknown option '{unknown[0]}'"
                                  f"{did_you_mean(str(unknown[0]), _SIGNATURE_KEYS)}")
        batchable = options.get("batchable", False)
        dim = options.get("batch_dim", 0)
        if not isinstance(batchable, bool):
            raise InvalidArgument(f"{where}['{method}']['batchable'] must be True or False")
        if isinstance(dim, (builtins.list, tuple)) and len(dim) == 2:
            dim = [int(d) for d in dim]
        elif isinstance(dim, int) and not isinstance(dim, bool):
            dim = int(dim)
        else:
            raise InvalidArgument(f"{where}['{method}']['batch_dim'] must be an int or a "
                                  f"pair (input_dim, output_dim), got {dim!r}")
        checked[method] = {"batchable": batchable, "batch_dim": dim}
    return checked


def _plain(value: Any, what: str) -> dict[str, Any]:
    """A copy of ``value`` that survives a YAML round trip, or a clear error."""
    value = dict(value or {})
    try:
        return yaml.safe_load(yaml.safe_dump(value))
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{what} must hold plain values (str, numbers, lists, dicts); "
                              f"{exc}") from None


@dataclass(frozen=True)
class ModelInfo:
    """What ``model.yaml`` says about one model version."""

    tag: Tag
    framework: str
    framework_versions: dict[str, str | None] = field(default_factory=dict)
    signatures: dict[str, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    bentonb_version: str = __version__

    @property
    def creation_time(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self.created_at)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.tag.name, "version": self.tag.version, "framework": self.framework,
                "framework_versions": self.framework_versions, "signatures": self.signatures,
                "labels": self.labels, "metadata": self.metadata, "options": self.options,
                "created_at": self.created_at, "bentonb_version": self.bentonb_version}

    @classmethod
    def parse(cls, text: str, where: str) -> ModelInfo:
        """Read a ``model.yaml``; anything malformed is refused naming the file."""
        try:
            data = yaml.safe_load(text)
            if not isinstance(data, dict):
                raise InvalidArgument("it is not a mapping")
            return cls(Tag(data.get("name"), data.get("version")),
                       str(data.get("framework") or "python"),
                       dict(data.get("framework_versions") or {}),
                       check_signatures(data.get("signatures") or {"__call__": {}}),
                       check_labels(data.get("labels")), dict(data.get("metadata") or {}),
                       dict(data.get("options") or {}), str(data.get("created_at", "")),
                       str(data.get("bentonb_version", "")))
        except (yaml.YAMLError, InvalidArgument, TypeError, ValueError) as exc:
            raise BundleError(f"{where} is not a valid {MODEL_FILE}: {exc}") from None


class Model:
    """One stored model version: ``.tag``, ``.path``, ``.info``, ``.custom_objects``."""

    def __init__(self, path: Path, info: ModelInfo) -> None:
        self.path = path
        self.info = info
        self._custom: dict[str, Any] | None = None

    tag = property(lambda self: self.info.tag)
    framework = property(lambda self: self.info.framework)

    def __repr__(self) -> str:
        return f'Model(tag="{self.tag}", path="{self.path}")'

    @property
    def custom_objects(self) -> dict[str, Any]:
        """The objects saved with the model (unpickled once, on first use)."""
        if self._custom is None:
            file = self.path / CUSTOM_OBJECTS_FILE
            if file.is_file():
                import cloudpickle

                with file.open("rb") as handle:
                    self._custom = cloudpickle.load(handle)
            else:
                self._custom = {}
        return self._custom

    def load_model(self) -> Any:
        """The model object, loaded by its framework."""
        if _RUNTIME["loader"] is None:
            raise BentonbError("no model loader installed: import bentonb first")
        return _RUNTIME["loader"](self)

    def path_of(self, *parts: str) -> str:
        """The path of a file the framework wrote in this model's directory."""
        return str(self.path.joinpath(*parts))

    def to_runner(self, name: str | None = None, **options: Any) -> Any:
        """A runner calling this model's signatures (``runner.predict.run(x)``)."""
        if _RUNTIME["runner"] is None:
            raise BentonbError("no runner support installed: import bentonb first")
        return _RUNTIME["runner"](self, name=name, **options)


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


def _read(path: Path) -> Model | None:
    """The model in directory ``path``, or None when it holds no valid model."""
    file = path / MODEL_FILE
    try:
        if file.is_symlink() or file.stat().st_size > MAX_MODEL_FILE_BYTES:
            return None
        info = ModelInfo.parse(file.read_text(encoding="utf-8"), str(file))
    except (OSError, UnicodeError, BentonbError):
        return None
    if (info.tag.name, info.tag.version) != (path.parent.name, path.name):
        return None
    return Model(path, info)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            if not os.path.islink(os.path.join(folder, name)):
                _fsync(Path(folder, name))
        _fsync(Path(folder))


def _check_tag(name: str, version: str) -> None:
    check_name(name, "model")
    check_version(version, "model")


class ModelStore:
    """Find, list, delete, save, export and import models under ``home/models``."""

    def __init__(self, home: str | Path | None = None) -> None:
        base = home if home is not None else os.environ.get("BENTONB_HOME") or "~/bentonb"
        self.home = Path(base).expanduser()
        self.root = self.home / "models"

    def path(self, name: str, version: str) -> Path:
        return self.root / check_name(name, "model") / check_version(version, "model")

    def _versions(self, name: str) -> builtins.list[Model]:
        folder = self.root / check_name(name, "model")
        if not folder.is_dir():
            return []
        found = [m for child in folder.iterdir()
                 if not child.name.startswith(".") and (m := _read(child)) is not None]
        return sorted(found, key=lambda m: (m.info.created_at, m.tag.version))

    def list(self, name: str | None = None) -> builtins.list[Model]:
        """Every model (of ``name``), oldest first."""
        if name is not None:
            return self._versions(name)
        if not self.root.is_dir():
            return []
        names = sorted(p.name for p in self.root.iterdir()
                       if p.is_dir() and not p.name.startswith("."))
        return [m for n in names for m in self._versions(n)]

    def get(self, tag: str | Tag) -> Model:
        """``name:version``, ``name:latest`` or ``name`` (the newest). While a bundle's
        service loads (:func:`models_of_bundle`), the bundle's models come first, so a
        bundle serves the models it was built with."""
        for home in _BUNDLE_HOMES.get():
            with contextlib.suppress(NotFound):
                return ModelStore(home)._get(tag)
        return self._get(tag)

    def _get(self, tag: str | Tag) -> Model:
        name, version = parse_tag(str(tag), "model")
        models = self._versions(name)
        if version is None and models:
            return models[-1]
        for model in models:
            if model.tag.version == version:
                return model
        stored = self.list()
        known = sorted({m.tag.name for m in stored}) + [str(m.tag) for m in stored]
        raise NotFound(f"no model '{tag}' in store {self.home}{did_you_mean(str(tag), known)}")

    def delete(self, tag: str | Tag) -> builtins.list[Model]:
        """Delete one version, or every version when the tag names none."""
        name, version = parse_tag(str(tag), "model")
        doomed = self._versions(name) if version is None and ":" not in str(tag) else []
        doomed = doomed or [self.get(tag)]
        for model in doomed:
            trash = Path(tempfile.mkdtemp(prefix=".del-", dir=model.path.parent))
            os.rename(model.path, trash / "model")
            _fsync(model.path.parent)
            shutil.rmtree(trash)
        return doomed

    @contextlib.contextmanager
    def _staging(self, prefix: str) -> Iterator[Path]:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{prefix}-", dir=self.root))
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _publish(self, directory: Path, tag: Tag) -> Model:
        _sync_tree(directory)
        target = self.path(tag.name, tag.version)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(directory, target)  # onto an existing non-empty version: refused
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise InvalidArgument(f"model {tag} is already in the store; delete it first "
                                      f"(bentonb models delete {tag})") from None
            raise
        _fsync(target.parent)
        model = _read(target)
        if model is None:
            raise BundleError(f"{target} holds no valid {MODEL_FILE}")
        return model

    def save(self, name: str, *, framework: str, write: Callable[[Path], Mapping[str, Any]],
             framework_versions: Mapping[str, str | None] | None = None,
             signatures: Any = None, labels: Any = None, metadata: Any = None,
             custom_objects: Mapping[str, Any] | None = None) -> Model:
        """Save a new version of model ``name``: ``write(directory)`` writes the model's
        files and returns the options its loader needs. Everything is checked before
        anything is written, and nothing is left behind when a step fails."""
        tag = Tag(name, new_version())
        if custom_objects is not None and not isinstance(custom_objects, Mapping):
            raise InvalidArgument(f"custom_objects must be a dict, got {custom_objects!r:.80}")
        info = ModelInfo(tag, framework, dict(framework_versions or {}),
                         check_signatures(signatures or {"__call__": {}}), check_labels(labels),
                         _plain(metadata, "metadata"), {},
                         datetime.datetime.now(datetime.timezone.utc).isoformat())
        with self._staging("save") as tmp:
            folder = tmp / "model"
            folder.mkdir()
            options = _plain(write(folder), "the framework's load options")
            if custom_objects:
                import cloudpickle

                with (folder / CUSTOM_OBJECTS_FILE).open("wb") as handle:
                    cloudpickle.dump(dict(custom_objects), handle)
            data = {**info.to_dict(), "options": options}
            (folder / MODEL_FILE).write_text(yaml.safe_dump(data, sort_keys=False),
                                             encoding="utf-8")
            return self._publish(folder, tag)

    def export_model(self, tag: str | Tag, file: str | Path) -> Path:
        """Write a model as a ``.bentomodel`` (tar.gz) archive: ``file`` or, for a
        directory, ``file/name-version.bentomodel``."""
        model = self.get(tag)
        file = Path(file).expanduser()
        if file.is_dir():
            file = file / f"{model.tag.name}-{model.tag.version}.bentomodel"
        return safetar.write_archive(model.path, f"{model.tag.name}/{model.tag.version}", file)

    def import_model(self, file: str | Path,
                     limits: safetar.ArchiveLimits | None = None) -> Model:
        """Add the model in an archive made by :meth:`export_model`, checked first."""
        file = Path(file).expanduser()
        with safetar.open_archive(file) as tar:
            checked = safetar.check_members(tar, file, limits or safetar.ArchiveLimits(),
                                            MODEL_FILE, _check_tag, "model",
                                            "bentonb models import")
            text = safetar.read_text(tar, checked.manifest, file, MAX_MODEL_FILE_BYTES)
            info = ModelInfo.parse(text, f"{file}:{checked.manifest.name}")
            if (info.tag.name, info.tag.version) != (checked.name, checked.version):
                raise safetar.refuse(file, f"its {MODEL_FILE} names {info.tag} but the "
                                           f"archive holds {checked.name}/{checked.version}/")
            if self.path(checked.name, checked.version).exists():
                raise InvalidArgument(f"model {info.tag} is already in the store; delete it "
                                      f"first (bentonb models delete {info.tag})")
            with self._staging("import") as tmp:
                return self._publish(safetar.extract(tar, checked, tmp), info.tag)


@contextlib.contextmanager
def models_of_bundle(home: str | Path) -> Iterator[None]:
    """Within the block (in this thread or task), model lookups search
    ``home/models/`` before the store: a bundle loader wraps the import of a 1.x
    bundle's service in it. Saving still writes to the store."""
    token = _BUNDLE_HOMES.set((Path(home), *_BUNDLE_HOMES.get()))
    try:
        yield
    finally:
        _BUNDLE_HOMES.reset(token)


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
