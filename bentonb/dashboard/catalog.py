"""What the dashboard knows about a store: plain functions over the file system,
shared by the standalone app and the Jupyter extension.

:class:`Catalog` answers every question the pages and the JSON API ask (the
bundles, grouped by name; one bundle in full; its archive; a deletion; the
models, when a model store exists). Every name and version from a URL is
checked by :mod:`bentonb.tags` before it becomes a path, and only directories
the store indexes are ever read. Each manifest is parsed once and kept while
its file is unchanged (same inode, size and mtime), so listing a thousand
bundles costs a thousand ``stat`` calls, not a thousand YAML parses.

Never imports tornado, notebook/ or the CLI.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bentonb.bundle.manifest import MANIFEST_FILE, BundleManifest
from bentonb.bundle.paths import locate
from bentonb.errors import BentonbError, BundleError, NotFound, did_you_mean
from bentonb.store import MAX_MANIFEST_BYTES, LocalStore
from bentonb.tags import LATEST, check_name, check_version

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: The service source and README shown on a detail page are cut at this size.
MAX_TEXT = 512 * 1024


@dataclass(frozen=True)
class BundleEntry:
    """One indexed bundle: its manifest and the bytes its files take."""

    path: Path
    manifest: BundleManifest
    size: int

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    def summary(self) -> dict[str, Any]:
        m = self.manifest
        return {"name": m.name, "version": m.version, "tag": m.tag,
                "created_at": m.created_at, "labels": m.labels, "size": self.size,
                "apis": [a.name for a in m.apis], "artifacts": [a.type for a in m.artifacts],
                "kind": m.kind, "models": list(m.models)}


@dataclass
class _Cached:
    stamp: tuple[int, int, int]
    entry: BundleEntry | None  # None: not a valid bundle (kept so it is not re-read)


def tree_size(root: Path) -> int:
    """Bytes of the regular files under ``root`` (links are not followed)."""
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def _valid(check, text: str) -> bool:
    try:
        check(text)
    except BentonbError:
        return False
    return True


@dataclass
class Catalog:
    """The dashboard's view of the store at ``home`` (default: ``$BENTONB_HOME``)."""

    store: LocalStore = field(default_factory=LocalStore)
    _cache: dict[Path, _Cached] = field(default_factory=dict, repr=False)

    def _read(self, path: Path) -> BundleEntry | None:
        try:
            info = os.lstat(path / MANIFEST_FILE)
        except OSError:
            return None
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        cached = self._cache.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached.entry
        entry = None
        try:
            manifest = _read_manifest(path / MANIFEST_FILE, info)
            if (manifest.name, manifest.version) == (path.parent.name, path.name):
                entry = BundleEntry(path, manifest, tree_size(path))
        except (BentonbError, OSError, UnicodeError):
            pass  # a damaged or foreign directory is simply not listed
        self._cache[path] = _Cached(stamp, entry)
        return entry

    def entries(self, name: str | None = None,
                labels: Mapping[str, str] | None = None) -> list[BundleEntry]:
        """Every valid bundle (of ``name``, with all ``labels``), by name then oldest first."""
        repo = self.store.repository
        names = [check_name(name)] if name else \
            sorted(e.name for e in _scan(repo) if _valid(check_name, e.name))
        seen: dict[Path, _Cached] = {}
        found = []
        for n in names:
            for child in _scan(repo / n):
                if child.name.startswith(".") or not _valid(check_version, child.name):
                    continue
                path = Path(child.path)
                entry = self._read(path)
                if path in self._cache:
                    seen[path] = self._cache[path]
                if entry is not None:
                    found.append(entry)
        if name is None:  # forget bundles that are gone
            self._cache = seen
        found.sort(key=lambda e: (e.name, e.manifest.created_at, e.version))
        if labels:
            found = [e for e in found
                     if all(e.manifest.labels.get(k) == v for k, v in labels.items())]
        return found

    def groups(self, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """One row per bundle name: versions, the newest version and its details."""
        by_name: dict[str, list[BundleEntry]] = {}
        for entry in self.entries(labels=labels):
            by_name.setdefault(entry.name, []).append(entry)
        rows = []
        for name, versions in by_name.items():
            latest = versions[-1]
            rows.append({"name": name, "versions": len(versions), "latest": latest.version,
                         "created_at": latest.manifest.created_at,
                         "labels": latest.manifest.labels, "size": latest.size,
                         "total_size": sum(v.size for v in versions),
                         "all_labels": sorted({f"{k}={v}" for e in versions
                                               for k, v in e.manifest.labels.items()})})
        return rows

    def find(self, name: str, version: str) -> BundleEntry:
        """The bundle ``name:version`` (``latest``: the newest), checked by the tag grammar;
        :class:`NotFound` names the known versions."""
        check_name(name)
        check_version(version)
        versions = self.entries(name)
        if version == LATEST and versions:
            return versions[-1]
        for entry in versions:
            if entry.version == version:
                return entry
        if not versions:
            known = [row["name"] for row in self.groups()]
            raise NotFound(f"no bundle named '{name}' in store {self.store.home}"
                           f"{did_you_mean(name, known)}")
        raise NotFound(f"no version '{version}' of {name}; versions: "
                       f"{', '.join(e.version for e in versions[-5:])}")

    def detail(self, name: str, version: str) -> dict[str, Any]:
        """Everything a detail page shows: the manifest, sizes, source, README."""
        entry = self.find(name, version)
        where = locate(entry.path)
        data = entry.manifest.to_dict()
        for spec in data["artifacts"]:
            spec["size"] = tree_size(where.artifact_dir(spec["name"]))
        data["models"] = [{"tag": tag, "size": tree_size(where.model_dir(tag))}
                          for tag in entry.manifest.models]
        data.update(
            tag=entry.manifest.tag, size=entry.size,
            requirements=_text(entry.path / "requirements.txt").splitlines(),
            source=_text(where.module_file), readme=_text(entry.path / "README.md"),
            versions=[e.version for e in self.entries(name)],
            commands={"serve": f"bentonb serve {entry.manifest.tag}",
                      "containerize": f"bentonb containerize {entry.manifest.tag}"})
        return data

    def delete(self, name: str, version: str) -> str:
        """Delete one version (never a whole name); returns its tag."""
        entry = self.find(name, version)
        self.store.delete(entry.manifest.tag)
        self._cache.pop(entry.path, None)
        return entry.manifest.tag

    def models(self) -> list[dict[str, Any]] | None:
        """The models of ``$BENTONB_HOME/models/<name>/<version>/model.yaml``, or None
        when there is no model store (the page then shows no models section)."""
        root = self.store.home / "models"
        if not root.is_dir():
            return None
        rows = []
        for folder in sorted(_scan(root), key=lambda e: e.name):
            if not _valid(lambda n: check_name(n, "model"), folder.name):
                continue
            for child in sorted(_scan(Path(folder.path)), key=lambda e: e.name):
                spec = Path(child.path) / "model.yaml"
                if not _valid(lambda v: check_version(v, "model"), child.name) or \
                        spec.is_symlink() or not spec.is_file():
                    continue
                try:
                    data = yaml.safe_load(_text(spec)) or {}
                except yaml.YAMLError:
                    continue
                data = data if isinstance(data, dict) else {}
                rows.append({"name": folder.name, "version": child.name,
                             "created_at": str(data.get("created_at", "")),
                             "module": str(data.get("module", data.get("framework", ""))),
                             "labels": data.get("labels") if isinstance(
                                 data.get("labels"), dict) else {}})
        return rows


def _read_manifest(file: Path, info: os.stat_result) -> BundleManifest:
    """The checks of :meth:`BundleManifest.read` (no link, bounded size), parsed with
    libyaml's loader when PyYAML has it: ten times faster on a cold list."""
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode) or \
            info.st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{file} is refused: a link, not a file, or too large")
    text = file.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise BundleError(f"{file} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{file} does not hold a manifest mapping")
    return BundleManifest.from_dict(data)


def _scan(folder: Path) -> list[os.DirEntry]:
    """The sub-directories of ``folder`` (not links); none when it is missing."""
    try:
        with os.scandir(folder) as it:
            return [e for e in it if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _text(path: Path) -> str:
    """A text file of a bundle, cut at :data:`MAX_TEXT`; empty when missing."""
    try:
        if path.is_symlink() or not path.is_file():
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(MAX_TEXT)
    except OSError:
        return ""
