"""Bundle archives (``.tar.gz``): export from the store, import into it, open to serve.

An archive comes from another machine and is hostile until checked. Before a
single byte is written, every member is checked: a relative path with no
``..`` under one ``Name/version/`` folder, a regular file or a directory (no
links of any kind, no devices or fifos), within a cap on the member count and
on the unpacked size. The manifest is read from the archive itself and its name
and version checked with the tag grammar. Only then is it extracted, into a
temporary directory inside the store, checked again as a bundle directory
(:func:`bentonb.bundle.paths.locate`) and moved into place by one rename. A
refused import leaves the store exactly as it was.
"""

from __future__ import annotations

import contextlib
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bentonb.bundle.manifest import MANIFEST_FILE, BundleManifest
from bentonb.bundle.paths import locate
from bentonb.bundle.writer import sync_tree
from bentonb.errors import BundleError
from bentonb.safetar import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_SIZE,
    ArchiveLimits,
    CheckedArchive,
    check_members,
    extract,
    open_archive,
    read_text,
    refuse,
    write_archive,
)
from bentonb.store import MAX_MANIFEST_BYTES, LocalStore, StoredBundle
from bentonb.tags import check_name, check_version

__all__ = ["DEFAULT_MAX_MEMBERS", "DEFAULT_MAX_SIZE", "ArchiveLimits", "export_bundle",
           "extracted", "import_bundle", "is_archive"]


@dataclass(frozen=True)
class _Checked:
    archive: CheckedArchive
    manifest: BundleManifest


def is_archive(path: Path) -> bool:
    """True for a file that is a tar archive (compressed or not)."""
    try:
        return path.is_file() and tarfile.is_tarfile(path)
    except OSError:
        return False


_open = open_archive


def _check_tag(name: str, version: str) -> None:
    check_name(name)
    check_version(version)


def _check(tar: tarfile.TarFile, file: Path, limits: ArchiveLimits) -> _Checked:
    """Check every member and the manifest, writing nothing."""
    archive = check_members(tar, file, limits, MANIFEST_FILE, _check_tag)
    text = read_text(tar, archive.manifest, file, MAX_MANIFEST_BYTES)
    manifest = BundleManifest.parse(text, f"{file}:{archive.manifest.name}")
    if (manifest.name, manifest.version) != (archive.name, archive.version):
        raise refuse(file, f"its manifest names {manifest.tag} but the archive holds "
                           f"{archive.name}/{archive.version}/")
    return _Checked(archive, manifest)


def _extract(tar: tarfile.TarFile, checked: _Checked, into: Path) -> Path:
    """Extract the checked members into ``into``; the bundle directory, checked."""
    root = extract(tar, checked.archive, into)
    locate(root)
    return root


def import_bundle(file: str | Path, store: LocalStore | None = None,
                  limits: ArchiveLimits | None = None) -> StoredBundle:
    """Add the bundle in an archive made by :func:`export_bundle` to the store."""
    store = store or LocalStore()
    file = Path(file).expanduser()
    with _open(file) as tar:
        checked = _check(tar, file, limits or ArchiveLimits())
        manifest = checked.manifest
        already = BundleError(f"{manifest.tag} is already in the store; delete it first "
                              f"(bentonb delete {manifest.tag})")
        if store.path(manifest.name, manifest.version).exists():
            raise already
        with store.staging("import") as tmp:
            root = _extract(tar, checked, tmp)
            sync_tree(root)
            try:
                return store.add(root, manifest.name, manifest.version)
            except FileExistsError:
                raise already from None


@contextlib.contextmanager
def extracted(file: str | Path, limits: ArchiveLimits | None = None) -> Iterator[Path]:
    """The bundle in an archive, checked and extracted into a temporary directory
    (``bentonb-bundle-*``) that is removed when the block ends, however it ends."""
    file = Path(file).expanduser()
    tmp: Path | None = None
    try:
        with _open(file) as tar:
            checked = _check(tar, file, limits or ArchiveLimits())
            tmp = Path(tempfile.mkdtemp(prefix="bentonb-bundle-"))
            root = _extract(tar, checked, tmp)
        yield root
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def export_bundle(tag: str, file: str | Path, store: LocalStore | None = None) -> Path:
    """Write a bundle of the store as a ``.tar.gz`` archive (``FILE`` or, for a
    directory, ``FILE/Name-version.tar.gz``); the file appears complete or not at all."""
    bundle = (store or LocalStore()).get(tag)
    locate(bundle.path)  # never ship a bundle that an import would refuse
    file = Path(file).expanduser()
    if file.is_dir():
        file = file / f"{bundle.name}-{bundle.version}.tar.gz"
    return write_archive(bundle.path, f"{bundle.name}/{bundle.version}", file)
