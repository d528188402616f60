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
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bentonb.bundle.manifest import MANIFEST_FILE, BundleManifest
from bentonb.bundle.paths import locate
from bentonb.bundle.writer import sync_tree
from bentonb.errors import BundleError, InvalidArgument
from bentonb.store import MAX_MANIFEST_BYTES, LocalStore, StoredBundle, fsync_dir
from bentonb.tags import check_name, check_version

DEFAULT_MAX_SIZE = 10 * 1024 ** 3
DEFAULT_MAX_MEMBERS = 100_000


@dataclass(frozen=True)
class ArchiveLimits:
    """How large an archive may unpack: total bytes of its files, and member count."""

    max_size: int = DEFAULT_MAX_SIZE
    max_members: int = DEFAULT_MAX_MEMBERS


@dataclass(frozen=True)
class _Checked:
    members: list[tarfile.TarInfo]
    manifest: BundleManifest


def is_archive(path: Path) -> bool:
    """True for a file that is a tar archive (compressed or not)."""
    try:
        return path.is_file() and tarfile.is_tarfile(path)
    except OSError:
        return False


def _open(file: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(file, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"cannot read archive {file}: {exc}") from exc


def _refuse(file: Path, why: str) -> BundleError:
    return BundleError(f"archive {file} is refused: {why}")


def _check(tar: tarfile.TarFile, file: Path, limits: ArchiveLimits) -> _Checked:
    """Check every member and the manifest, writing nothing."""
    members: list[tarfile.TarInfo] = []
    size = 0
    try:
        for member in tar:
            if len(members) >= limits.max_members:
                raise _refuse(file, f"it has more than {limits.max_members} members "
                                    "(bentonb import --max-members raises the limit)")
            parts = PurePosixPath(member.name).parts
            if not parts or member.name.startswith("/") or ".." in parts:
                raise _refuse(file, f"member '{member.name}' would be written outside the "
                                    "bundle")
            if not (member.isfile() or member.isdir()):
                raise _refuse(file, f"member '{member.name}' is a link or special file")
            size += member.size if member.isfile() else 0
            if size > limits.max_size:
                raise _refuse(file, f"it unpacks to more than {limits.max_size} bytes "
                                    "(bentonb import --max-size raises the limit)")
            members.append(member)
    except tarfile.TarError as exc:
        raise BundleError(f"cannot read archive {file}: {exc}") from exc
    manifests = [m for m in members if len(PurePosixPath(m.name).parts) == 3
                 and PurePosixPath(m.name).name == MANIFEST_FILE and m.isfile()]
    if len(manifests) != 1:
        raise BundleError(f"archive {file} is not a bentonb bundle export: expected one "
                          f"Name/version/{MANIFEST_FILE}")
    name, version, _ = PurePosixPath(manifests[0].name).parts
    try:
        check_name(name)
        check_version(version)
    except InvalidArgument as exc:
        raise _refuse(file, str(exc)) from None
    for member in members:
        parts = PurePosixPath(member.name).parts
        if parts != (name,) and parts[:2] != (name, version):
            raise _refuse(file, f"member '{member.name}' is outside {name}/{version}/")
    if manifests[0].size > MAX_MANIFEST_BYTES:
        raise _refuse(file, f"its {MANIFEST_FILE} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        text = tar.extractfile(manifests[0]).read().decode("utf-8")
    except (UnicodeError, tarfile.TarError, OSError) as exc:
        raise _refuse(file, f"its {MANIFEST_FILE} cannot be read: {exc}") from None
    manifest = BundleManifest.parse(text, f"{file}:{manifests[0].name}")
    if (manifest.name, manifest.version) != (name, version):
        raise _refuse(file, f"its manifest names {manifest.tag} but the archive holds "
                            f"{name}/{version}/")
    return _Checked(members, manifest)


def _extract(tar: tarfile.TarFile, checked: _Checked, into: Path) -> Path:
    """Extract the checked members into ``into``; the bundle directory, checked."""
    try:
        tar.extractall(into, members=checked.members, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"cannot extract {tar.name}: {exc}") from exc
    root = into / checked.manifest.name / checked.manifest.version
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
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
        with os.fdopen(fd, "wb") as raw:
            # Links inside the bundle (checked above) travel as the files they name.
            with tarfile.open(fileobj=raw, mode="w:gz", dereference=True) as tar:
                tar.add(bundle.path, arcname=f"{bundle.name}/{bundle.version}",
                        filter=lambda m: None if "__pycache__" in m.name.split("/") else m)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, file)
        tmp = None
        fsync_dir(file.parent)
    except OSError as exc:
        raise BundleError(f"cannot write {file}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return file
