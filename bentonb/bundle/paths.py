"""Where a bundle's files are, checked: nothing a bundle names lies outside it.

A bundle directory may come from anywhere (an archive, a copy, a pip install),
so before its manifest is trusted or any of its code runs, :func:`locate`
refuses links that lead out of the bundle and special files (fifos, devices)
anywhere in it, and checks that every path the manifest names (the service
module, each artifact directory, the setup script) resolves inside it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from bentonb.bundle.manifest import MANIFEST_FILE, BundleManifest
from bentonb.errors import BundleError


@dataclass(frozen=True)
class BundleLocation:
    """A checked bundle: its root (where ``bento.yaml`` is), the package directory
    holding the service module and artifacts, and the manifest."""

    root: Path
    package: Path
    manifest: BundleManifest

    @property
    def source_dir(self) -> Path:
        """Where the service's modules are: the package directory (0.x), or its
        ``src`` folder holding the files a bentofile included (1.x)."""
        return self.package / "src" if self.manifest.kind == "1.x" else self.package

    @property
    def module_file(self) -> Path:
        base = self.source_dir / Path(*self.manifest.module.split("."))
        if self.manifest.kind == "1.x" and not base.with_suffix(".py").is_file():
            return base / "__init__.py"
        return base.with_suffix(".py")

    @property
    def models_home(self) -> Path:
        """The directory whose ``models/`` folder holds a 1.x bundle's models, laid out
        as the model store (``models/<name>/<version>/model.yaml``)."""
        return self.package

    def model_dir(self, tag: str) -> Path:
        name, _, version = tag.partition(":")
        return self.package / "models" / name / version

    def artifact_dir(self, name: str) -> Path:
        return self.package / "artifacts" / name

    @property
    def static_dir(self) -> Path | None:
        """The bundle's copy of the ``@web_static_content`` directory, if it has one."""
        name = self.manifest.web_static_content
        return self.package / name if name else None


def _resolved(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop
        return None


def check_tree(root: Path) -> None:
    """Refuse any link under ``root`` that leads outside it, and any special file."""
    for folder, dirs, files in os.walk(root):  # does not follow links to directories
        for entry in dirs + files:
            path = Path(folder, entry)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                target = _resolved(path)
                if target is None or not target.is_relative_to(root):
                    raise BundleError(f"bundle {root} is refused: "
                                      f"{path.relative_to(root)} is a link to "
                                      f"{os.readlink(path)}, outside the bundle")
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise BundleError(f"bundle {root} is refused: {path.relative_to(root)} is "
                                  "not a regular file or directory")


def check_inside(root: Path, path: Path, what: str) -> Path:
    """``path`` resolved, if it lies inside ``root``; else a :class:`BundleError`."""
    target = _resolved(path)
    if target is None or not target.is_relative_to(root):
        raise BundleError(f"bundle {root} is refused: its {what} {path} resolves outside "
                          "the bundle")
    return target


def locate(path: str | Path) -> BundleLocation:
    """Check the bundle at ``path`` (the bundle root as saved, or its package directory
    as pip installs it) and say where its parts are. Reads nothing outside it."""
    root = _resolved(Path(path).expanduser())
    if root is None or not root.is_dir():
        raise BundleError(f"no bundle directory at {path}")
    manifest = BundleManifest.read(root)  # first: a directory without one is not walked
    check_tree(root)
    for package in (root / manifest.package, root):
        if BundleLocation(root, package, manifest).module_file.is_file():
            break
    else:
        raise BundleError(f"bundle {root} is incomplete: the service module "
                          f"{manifest.module} is missing from {manifest.package}/")
    where = BundleLocation(root, package, manifest)
    check_inside(root, where.module_file, "service module")
    for tag in manifest.models:
        if not (check_inside(root, where.model_dir(tag), f"model '{tag}'")
                / "model.yaml").is_file():
            raise BundleError(f"bundle {root} is incomplete: model {tag} has no "
                              f"{where.model_dir(tag).relative_to(root)}/model.yaml")
    for art in manifest.artifacts:
        check_inside(root, where.artifact_dir(art.name), f"artifact '{art.name}'")
    if where.static_dir is not None:
        if not check_inside(root, where.static_dir, "web static content").is_dir():
            raise BundleError(f"bundle {root} is incomplete: its web static content "
                              f"{where.static_dir.relative_to(root)} is not a directory")
    if manifest.env.setup_sh:
        check_inside(root, root / manifest.env.setup_sh, "setup script")
    if (package / MANIFEST_FILE).is_file():
        check_inside(root, package / MANIFEST_FILE, "package manifest")
    return where
