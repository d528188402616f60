"""The model store on disk: ``$BENTONB_HOME/models/<name>/<version>/``.

Owns the directories: finding, listing, deleting, saving (a hidden temporary
directory, flushed, then one rename, so a model appears whole or not at all),
exporting and importing archives (through :mod:`bentonb.safetar`), and the
bundle-first lookup of :func:`models_of_bundle`. It must never import a
framework, the sdk, the bundle code or anything above the bottom layer.
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
from pathlib import Path
from typing import Any

import yaml

from bentonb import safetar
from bentonb.errors import BentonbError, BundleError, InvalidArgument, NotFound, did_you_mean
from bentonb.models.info import (
    CUSTOM_OBJECTS_FILE,
    MAX_MODEL_FILE_BYTES,
    MODEL_FILE,
    ModelInfo,
    _plain,
    check_signatures,
)
from bentonb.models.model import Model
from bentonb.tags import Tag, check_labels, check_name, check_version, new_version, parse_tag

#: Folders (each holding a ``models/`` folder laid out as a store) searched before the
#: store while a bundle's service is being loaded: a 1.x bundle's own models. Scoped to
#: the loading context by :func:`models_of_bundle`, never set for good.
_BUNDLE_HOMES: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar(
    "bentonb_bundle_model_homes", default=())
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
