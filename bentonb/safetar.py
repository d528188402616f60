"""Archives that came from elsewhere, checked before a byte is written; archives
written so that they appear complete or not at all.

Both stores (bundles and models) move directories between machines as
``Name/version/...`` tar archives. This module owns the checks every such
archive passes before extraction: a relative path with no ``..`` under one
``Name/version/`` folder, a regular file or a directory (no links of any kind,
no devices or fifos), a cap on the member count and on the unpacked size, and
exactly one manifest file at ``Name/version/<manifest>``. What a valid name or
version is, and what the manifest must say, the caller decides (it passes the
check). Imports only :mod:`bentonb.errors`, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import os
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bentonb.errors import BundleError, InvalidArgument

DEFAULT_MAX_SIZE = 10 * 1024 ** 3
DEFAULT_MAX_MEMBERS = 100_000


@dataclass(frozen=True)
class ArchiveLimits:
    """How large an archive may unpack: total bytes of its files, and member count."""

    max_size: int = DEFAULT_MAX_SIZE
    max_members: int = DEFAULT_MAX_MEMBERS


@dataclass(frozen=True)
class CheckedArchive:
    """An archive whose members all passed the checks: one ``name/version/`` folder."""

    members: list[tarfile.TarInfo]
    name: str
    version: str
    manifest: tarfile.TarInfo


def open_archive(file: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(file, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"cannot read archive {file}: {exc}") from exc


def refuse(file: Path, why: str) -> BundleError:
    return BundleError(f"archive {file} is refused: {why}")


def check_members(tar: tarfile.TarFile, file: Path, limits: ArchiveLimits, manifest_file: str,
                  check_tag: Callable[[str, str], None], what: str = "bundle",
                  flag: str = "bentonb import") -> CheckedArchive:
    """Check every member of ``tar`` and find its one ``Name/version/manifest_file``,
    writing nothing. ``check_tag(name, version)`` raises :class:`InvalidArgument` for
    a name or version the caller's store refuses."""
    members: list[tarfile.TarInfo] = []
    size = 0
    try:
        for member in tar:
            if len(members) >= limits.max_members:
                raise refuse(file, f"it has more than {limits.max_members} members "
                                   f"({flag} --max-members raises the limit)")
            parts = PurePosixPath(member.name).parts
            if not parts or member.name.startswith("/") or ".." in parts:
                raise refuse(file, f"member '{member.name}' would be written outside the "
                                   f"{what}")
            if not (member.isfile() or member.isdir()):
                raise refuse(file, f"member '{member.name}' is a link or special file")
            size += member.size if member.isfile() else 0
            if size > limits.max_size:
                raise refuse(file, f"it unpacks to more than {limits.max_size} bytes "
                                   f"({flag} --max-size raises the limit)")
            members.append(member)
    except tarfile.TarError as exc:
        raise BundleError(f"cannot read archive {file}: {exc}") from exc
    manifests = [m for m in members if len(PurePosixPath(m.name).parts) == 3
                 and PurePosixPath(m.name).name == manifest_file and m.isfile()]
    if len(manifests) != 1:
        raise BundleError(f"archive {file} is not a bentonb {what} export: expected one "
                          f"Name/version/{manifest_file}")
    name, version, _ = PurePosixPath(manifests[0].name).parts
    try:
        check_tag(name, version)
    except InvalidArgument as exc:
        raise refuse(file, str(exc)) from None
    for member in members:
        parts = PurePosixPath(member.name).parts
        if parts != (name,) and parts[:2] != (name, version):
            raise refuse(file, f"member '{member.name}' is outside {name}/{version}/")
    return CheckedArchive(members, name, version, manifests[0])


def read_text(tar: tarfile.TarFile, member: tarfile.TarInfo, file: Path, max_bytes: int) -> str:
    """The UTF-8 text of a (manifest) member of at most ``max_bytes``."""
    label = PurePosixPath(member.name).name
    if member.size > max_bytes:
        raise refuse(file, f"its {label} is larger than {max_bytes} bytes")
    try:
        return tar.extractfile(member).read().decode("utf-8")
    except (UnicodeError, tarfile.TarError, OSError) as exc:
        raise refuse(file, f"its {label} cannot be read: {exc}") from None


def extract(tar: tarfile.TarFile, checked: CheckedArchive, into: Path) -> Path:
    """Extract the checked members into ``into``; return ``into/name/version``."""
    try:
        tar.extractall(into, members=checked.members, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"cannot extract {tar.name}: {exc}") from exc
    return into / checked.name / checked.version


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_archive(source: Path, arcname: str, file: Path) -> Path:
    """Write directory ``source`` as a ``.tar.gz`` whose members sit under ``arcname``;
    the file appears complete or not at all (a temporary file, fsync, one rename)."""
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
        with os.fdopen(fd, "wb") as raw:
            # Links inside the directory (checked by the caller) travel as the files
            # they name.
            with tarfile.open(fileobj=raw, mode="w:gz", dereference=True) as tar:
                tar.add(source, arcname=arcname,
                        filter=lambda m: None if "__pycache__" in m.name.split("/") else m)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, file)
        tmp = None
        _fsync_dir(file.parent)
    except OSError as exc:
        raise BundleError(f"cannot write {file}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return file
