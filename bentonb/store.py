"""The bundle store: an index of bundle directories under
``$BENTONB_HOME/repository/<Name>/<version>/``.

The file system is the source of truth: a bundle is in the store when its
directory holds a manifest whose name and version match the directory, and
nothing else is kept about it. The store knows tags, versions, labels, which
version is the newest, where a new version goes, and how to put a finished
directory there in one rename; it never writes or reads a bundle's contents
(that is :mod:`bentonb.bundle`) and never imports services or bundles.

Names starting with ``.`` under the repository are the store's own temporary
directories (saves, imports, deletions) and are never listed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bentonb.errors import BentonbError, NotFound, did_you_mean
from bentonb.tags import check_labels, check_name, check_version, parse_tag

MANIFEST_FILE = "bento.yaml"
#: A manifest is a few kilobytes; anything far larger is not one.
MAX_MANIFEST_BYTES = 1 << 20


def default_home() -> Path:
    return Path(os.environ.get("BENTONB_HOME") or "~/bentonb").expanduser()


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class StoredBundle:
    """A bundle in the store: where it is and what its manifest says it is."""

    path: Path
    name: str
    version: str
    created_at: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return f"{self.name}:{self.version}"


def _entry(path: Path) -> StoredBundle | None:
    """The index entry of directory ``path``, or None when it holds no valid bundle."""
    manifest = path / MANIFEST_FILE
    try:
        if manifest.is_symlink() or manifest.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        check_version(path.name)
        data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("name") != path.parent.name \
                or data.get("version") != path.name:
            return None
        return StoredBundle(path, path.parent.name, path.name, str(data.get("created_at", "")),
                            check_labels(data.get("labels")))
    except (OSError, UnicodeError, yaml.YAMLError, BentonbError):
        return None


def _is_name(text: str) -> bool:
    """True for a valid bundle name (hidden and hand-made odd folders are not bundles)."""
    try:
        check_name(text)
    except BentonbError:
        return False
    return True


class LocalStore:
    """Find, list and delete bundles in one store directory, and place new ones."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.repository = self.home / "repository"

    def path(self, name: str, version: str) -> Path:
        """Where bundle ``name:version`` lives (or goes); both are checked first."""
        return self.repository / check_name(name) / check_version(version)

    # -- reading ---------------------------------------------------------------------------

    def _versions(self, name: str) -> list[StoredBundle]:
        folder = self.repository / check_name(name)
        if not folder.is_dir():
            return []
        found = [entry for child in folder.iterdir()
                 if not child.name.startswith(".") and (entry := _entry(child)) is not None]
        return sorted(found, key=lambda b: (b.created_at, b.version))

    def names(self) -> list[str]:
        if not self.repository.is_dir():
            return []
        return sorted(p.name for p in self.repository.iterdir()
                      if p.is_dir() and _is_name(p.name))

    def list(self, name: str | None = None,
             labels: Mapping[str, str] | None = None) -> list[StoredBundle]:
        """Every bundle (of ``name``), oldest first, keeping those with all ``labels``."""
        bundles = [b for n in ([name] if name else self.names()) for b in self._versions(n)]
        if labels:
            bundles = [b for b in bundles if all(b.labels.get(k) == v for k, v in labels.items())]
        return bundles

    def get(self, tag: str) -> StoredBundle:
        """Resolve a tag; an unknown one says which tag was probably meant."""
        name, version = parse_tag(tag)
        bundles = self._versions(name)
        if version is None and bundles:
            return bundles[-1]
        for bundle in bundles:
            if bundle.version == version:
                return bundle
        known = [b.tag for b in self.list()] + [f"{n}:latest" for n in self.names()]
        raise NotFound(f"unknown tag '{tag}' in store {self.home}{did_you_mean(tag, known)}")

    def select(self, tag: str) -> list[StoredBundle]:
        """The bundles a tag names: one version, or every version for a bare ``Name``."""
        name, version = parse_tag(tag)
        if version is None and ":" not in tag:
            bundles = self._versions(name)
            if bundles:
                return bundles
        return [self.get(tag)]

    # -- changing ----------------------------------------------------------------------------

    def delete(self, tag: str) -> list[StoredBundle]:
        """Delete one version, or every version of ``Name`` when the tag has none.

        Each version disappears from the index in one rename; its files go after.
        """
        doomed = self.select(tag)
        for bundle in doomed:
            trash = Path(tempfile.mkdtemp(prefix=f".del-{bundle.version}-",
                                          dir=bundle.path.parent))
            os.rename(bundle.path, trash / "bundle")
            fsync_dir(bundle.path.parent)
            shutil.rmtree(trash)
        return doomed

    @contextlib.contextmanager
    def staging(self, prefix: str) -> Iterator[Path]:
        """A new hidden directory inside the store (same file system, so a finished
        bundle moves into place by rename), removed on exit however the block ends.

        Directories of the store it had to create are removed again when left empty,
        so a failed save or import leaves the store exactly as it was.
        """
        created = [p for p in (self.home, self.repository) if not p.exists()]
        for _ in range(3):  # another process may remove an empty repository meanwhile
            self.repository.mkdir(parents=True, exist_ok=True)
            try:
                tmp = Path(tempfile.mkdtemp(prefix=f".{prefix}-", dir=self.repository))
                break
            except FileNotFoundError:
                continue
        else:
            raise BentonbError(f"cannot create a temporary directory in {self.repository}")
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            for path in reversed(created):
                with contextlib.suppress(OSError):
                    path.rmdir()  # only when empty: another save may have filled it

    def add(self, directory: Path, name: str, version: str) -> StoredBundle:
        """Move the finished bundle ``directory`` (already durable on disk, on the
        store's file system) to ``name:version`` in one rename, and make the rename
        durable. Raises :class:`FileExistsError` when that version is taken: two
        savers never replace each other."""
        target = self.path(name, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise FileExistsError(errno.EEXIST, "version exists", str(target))
        try:
            # Renaming a directory onto an existing non-empty one fails, so of two
            # processes renaming to the same version at once exactly one wins.
            os.rename(directory, target)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise FileExistsError(errno.EEXIST, "version exists", str(target)) from None
            raise
        fsync_dir(target.parent)
        fsync_dir(self.repository)
        entry = _entry(target)
        if entry is None:
            raise BentonbError(f"{target} holds no manifest for {name}:{version}")
        return entry
