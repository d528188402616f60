"""Write a service into a bundle: into the store, or into a directory of its own.

Nothing half-written is ever visible and nothing written is lost to a crash:
a bundle is written into a hidden temporary directory on the same file system,
every file and directory is flushed to disk, then one rename puts it in place
and the parent directory is flushed too. The temporary directory is removed
however the save ends (an error, Ctrl-C). What goes inside the directory is
:mod:`bentonb.bundle.contents`, whose names are re-exported here. This module owns
placing a bundle (store or directory, versions, flushing, the save log line); it
must never import the service packages or anything above the bundle layer.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bentonb.bundle.contents import (  # noqa: F401 - the names callers import from here
    STATIC_DIR,
    api_spec,
    write_bundle,
    write_generated_files,
)
from bentonb.bundle.manifest import BundleManifest
from bentonb.errors import BundleError, InvalidArgument
from bentonb.store import LocalStore, fsync_dir
from bentonb.tags import check_labels, check_name, check_version, new_version

_MAX_SAVE_TRIES = 5
#: ``s3://bucket``, ``gs://...``, ``http://...``: a URL, not a directory here (also
#: as ``Path`` spells it, ``s3:/bucket``; a scheme of two letters or more is never a
#: Windows drive).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")


class _StderrUntilConfigured(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (a notebook's output area, a script's
    terminal) until logging is configured for bentonb or the root logger; from then on
    the records reach those handlers instead, and this one stays quiet."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger("bentonb").handlers or logging.getLogger().handlers:
            return
        self.stream = sys.stderr
        super().emit(record)


#: The save messages, at INFO, visible without any logging configuration as the
#: tutorials show them: ``[time] INFO - BentoService bundle 'Name:version' saved to: PATH``.
SAVE_LOG = logging.getLogger("bentonb.bundle")
SAVE_LOG.setLevel(logging.INFO)
_default = _StderrUntilConfigured()
_default.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s - %(message)s"))
SAVE_LOG.addHandler(_default)


def sync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` (and ``root``) to disk, children
    before their directory, so a rename of ``root`` never publishes lost data."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def save_bundle(service: Any, home: str | Path | None = None, version: str | None = None,
                labels: dict[str, str] | None = None) -> Path:
    """Save ``service`` as a new version in the store at ``home`` (default
    ``$BENTONB_HOME``); return the bundle's path.

    Without ``version`` two processes saving at once always get distinct versions;
    with one, the second saver gets a clear error instead of replacing the first.
    """
    _refuse_url(home, "base_path")
    labels = check_labels(labels)
    path, manifest = publish(service.name, lambda target, chosen: write_bundle(
        service, target, chosen, labels), home, version)
    mark_saved(service, manifest, path)
    SAVE_LOG.info("BentoService bundle '%s' saved to: %s", manifest.tag, path)
    return path


def publish(name: str, write: Callable[[Path, str], BundleManifest],
            home: str | Path | None = None,
            version: str | None = None) -> tuple[Path, BundleManifest]:
    """Add a new version of bundle ``name`` to the store at ``home``:
    ``write(directory, version)`` writes the bundle into an empty directory, which then
    appears in the store whole or not at all. Returns the bundle's path and manifest."""
    store = LocalStore(home)
    name = check_name(name)
    if version is not None:
        check_version(version)
    for _ in range(_MAX_SAVE_TRIES):
        chosen = version or new_version()
        if store.path(name, chosen).exists():
            if version:
                raise _taken(name, chosen)
            continue
        with store.staging("tmp") as tmp:
            manifest = write(tmp / "bundle", chosen)
            sync_tree(tmp / "bundle")
            try:
                entry = store.add(tmp / "bundle", name, chosen)
            except FileExistsError:
                if version:
                    raise _taken(name, chosen) from None
                continue  # another process took this version a moment before us
        return entry.path, manifest
    raise BundleError(f"could not find a free version for {name}")


def _refuse_url(path: str | Path | None, what: str) -> None:
    """A remote location is refused before anything is written (no ``s3:`` directory)."""
    if path is not None and _URL.match(str(path)):
        raise InvalidArgument(
            f"{what}={str(path)!r}: remote stores are not supported; give a local directory "
            "(or none for $BENTONB_HOME), then move the bundle with `bentonb export`")


def _taken(name: str, version: str) -> InvalidArgument:
    return InvalidArgument(f"{name}:{version} already exists in the store; choose another "
                           "version or delete it first")


def save_to_dir(service: Any, path: str | Path, version: str | None = None,
                labels: dict[str, str] | None = None) -> Path:
    """Save ``service`` as a bundle at ``path`` (a new or empty directory)."""
    _refuse_url(path, "path")
    path = Path(path).expanduser().resolve()
    check_name(service.name)
    version = check_version(version) if version is not None else new_version()
    labels = check_labels(labels)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidArgument(f"cannot save into {path}: it exists and is not an empty directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        manifest = write_bundle(service, tmp / "bundle", version, labels)
        sync_tree(tmp / "bundle")
        if path.is_dir():
            path.rmdir()
        os.rename(tmp / "bundle", path)
        fsync_dir(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mark_saved(service, manifest, path)
    SAVE_LOG.info("BentoService bundle '%s' saved to: %s", manifest.tag, path)
    return path


def mark_saved(service: Any, manifest: BundleManifest, path: Path) -> None:
    """Record on ``service`` the bundle it was saved as (or loaded from)."""
    service.version, service.bundle_path = manifest.version, path
    service.labels = dict(manifest.labels)
