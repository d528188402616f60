"""The local store: versioned bundles under ``$BENTONB_HOME/repository/<Name>/<version>``.

The file system is the source of truth: a bundle is in the store when its
directory (with a manifest) is, and nothing else is kept about it.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from bentonb.bundle.manifest import MANIFEST_FILE, BundleManifest
from bentonb.bundle.writer import check_version, mark_saved, new_version, write_atomically
from bentonb.errors import BundleError, InvalidArgument, NotFound, did_you_mean

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_SAVE_TRIES = 5


def default_home() -> Path:
    return Path(os.environ.get("BENTONB_HOME") or "~/bentonb").expanduser()


def parse_tag(tag: str) -> tuple[str, str | None]:
    """Split ``Name[:version]`` (``latest`` or no version means the newest)."""
    if not isinstance(tag, str) or not tag.strip():
        raise InvalidArgument("a tag looks like Name:version, Name:latest or Name")
    name, _, version = tag.strip().partition(":")
    if not _NAME.match(name):
        raise InvalidArgument(f"invalid tag '{tag}': the name must be a Python class name "
                              "(letters, digits, '_'), e.g. IrisClassifier:latest")
    if not version or version == "latest":
        return name, None
    try:
        return name, check_version(version)
    except InvalidArgument:
        raise InvalidArgument(f"invalid tag '{tag}': the version may hold letters, digits, "
                              "'_', '.' and '-' only") from None


@dataclass(frozen=True)
class StoredBundle:
    """A bundle in the store: where it is and what its manifest says."""

    path: Path
    manifest: BundleManifest

    @property
    def tag(self) -> str:
        return self.manifest.tag


class LocalStore:
    """Save, find, list, delete, export and import bundles in one store directory."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.repository = self.home / "repository"

    def save(self, service: Any, version: str | None = None,
             labels: Mapping[str, str] | None = None) -> Path:
        """Save ``service`` as a new version; two savers never clash or see half a bundle."""
        for _ in range(_MAX_SAVE_TRIES):
            chosen = check_version(version) if version else new_version()
            target = self.repository / service.name / chosen
            if target.exists():
                if version:
                    raise InvalidArgument(f"{service.name}:{version} already exists in the "
                                          "store; choose another version or delete it first")
                continue
            try:
                manifest = write_atomically(service, target, chosen, dict(labels or {}) or None)
            except OSError:
                if target.exists() and not version:
                    continue  # another process took this version a moment before us
                raise
            mark_saved(service, manifest, target)
            return target
        raise BundleError(f"could not find a free version for {service.name}")

    # -- reading ---------------------------------------------------------------------------

    def _versions(self, name: str) -> list[StoredBundle]:
        folder = self.repository / name
        if not folder.is_dir():
            return []
        found = []
        for child in folder.iterdir():
            if child.name.startswith(".") or not (child / MANIFEST_FILE).is_file():
                continue
            try:
                found.append(StoredBundle(child, BundleManifest.read(child)))
            except BundleError:
                continue
        return sorted(found, key=lambda b: (b.manifest.created_at, b.manifest.version))

    def names(self) -> list[str]:
        if not self.repository.is_dir():
            return []
        return sorted(p.name for p in self.repository.iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def list(self, name: str | None = None,
             labels: Mapping[str, str] | None = None) -> list[StoredBundle]:
        """Every bundle (of ``name``), oldest first, keeping those with all ``labels``."""
        bundles = [b for n in ([name] if name else self.names()) for b in self._versions(n)]
        if labels:
            bundles = [b for b in bundles
                       if all(b.manifest.labels.get(k) == v for k, v in labels.items())]
        return bundles

    def get(self, tag: str) -> StoredBundle:
        """Resolve a tag; an unknown one says which tag was probably meant."""
        name, version = parse_tag(tag)
        bundles = self._versions(name)
        if version is None and bundles:
            return bundles[-1]
        for bundle in bundles:
            if bundle.manifest.version == version:
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

    def delete(self, tag: str) -> list[StoredBundle]:
        """Delete one version, or every version of ``Name`` when the tag has none."""
        doomed = self.select(tag)
        for bundle in doomed:
            trash = bundle.path.with_name(f".del-{bundle.path.name}")
            os.rename(bundle.path, trash)
            shutil.rmtree(trash)
        return doomed

    # -- moving between machines -----------------------------------------------------------

    def export(self, tag: str, file: str | Path) -> Path:
        """Write a bundle as a ``.tar.gz`` archive."""
        bundle = self.get(tag)
        file = Path(file).expanduser()
        if file.is_dir():
            file = file / f"{bundle.manifest.name}-{bundle.manifest.version}.tar.gz"
        try:
            with tarfile.open(file, "w:gz") as tar:
                tar.add(bundle.path, arcname=f"{bundle.manifest.name}/{bundle.manifest.version}")
        except OSError as exc:
            raise BundleError(f"cannot write {file}: {exc.strerror or exc}") from exc
        return file

    def import_(self, file: str | Path) -> StoredBundle:
        """Add the bundle in an archive made by :meth:`export` to the store."""
        file = Path(file).expanduser()
        with tempfile.TemporaryDirectory(dir=self._staging()) as tmp:
            root = extract_bundle_archive(file, Path(tmp))
            manifest = BundleManifest.read(root)
            target = self.repository / manifest.name / manifest.version
            if target.exists():
                raise BundleError(f"{manifest.tag} is already in the store; delete it first "
                                  f"(bentonb delete {manifest.tag})")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(root, target)
        return StoredBundle(target, manifest)

    def _staging(self) -> Path:
        self.repository.mkdir(parents=True, exist_ok=True)
        return self.repository


def extract_bundle_archive(file: Path, into: Path) -> Path:
    """Extract a bundle archive safely and return the bundle directory inside it.

    Links, devices, absolute paths and paths that climb out with ``..`` are
    refused before anything is written.
    """
    try:
        tar = tarfile.open(file, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"cannot read archive {file}: {exc}") from exc
    with tar:
        members = tar.getmembers()
        for member in members:
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts:
                raise BundleError(f"archive {file} is refused: member '{member.name}' would "
                                  "be written outside the bundle")
            if not (member.isfile() or member.isdir()):
                raise BundleError(f"archive {file} is refused: member '{member.name}' is a "
                                  "link or special file")
        manifests = [m for m in members if PurePosixPath(m.name).name == MANIFEST_FILE
                     and len(PurePosixPath(m.name).parts) == 3]
        if len(manifests) != 1:
            raise BundleError(f"archive {file} is not a bentonb bundle export: expected one "
                              f"Name/version/{MANIFEST_FILE}")
        tar.extractall(into, filter="data")
    return into / PurePosixPath(manifests[0].name).parent


def resolve(tag_or_path: str | Path, store: LocalStore | None = None) -> Path:
    """A bundle directory from a tag (``Name:latest``), a path to a bundle, or an
    archive made by ``bentonb export`` (extracted, safely, to a temporary directory)."""
    text = str(tag_or_path)
    path = Path(text).expanduser()
    if path.is_file() and tarfile.is_tarfile(path):
        return extract_bundle_archive(path, Path(tempfile.mkdtemp(prefix="bentonb-bundle-")))
    if path.is_dir():
        if not (path / MANIFEST_FILE).is_file():
            raise BundleError(f"{path} is not a bentonb bundle: it has no {MANIFEST_FILE}")
        return path
    if ":" not in text and ("/" in text or os.sep in text or text.startswith(".")):
        raise NotFound(f"no bundle directory at {path}")
    return (store or LocalStore()).get(text).path


def load(tag_or_path: str | Path) -> Any:
    """Load a saved service by tag or bundle path, with every artifact ready to use."""
    from bentonb.bundle.loader import load_bundle

    return load_bundle(resolve(tag_or_path))
