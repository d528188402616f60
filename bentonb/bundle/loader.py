"""Read a bundle directory back into a service instance with its models loaded."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

from bentonb.artifacts.base import artifact_class
from bentonb.bundle.manifest import MANIFEST_FILE, BundleManifest
from bentonb.bundle.writer import mark_saved
from bentonb.errors import BundleError

_IMPORT_LOCK = threading.Lock()


def locate(path: Path) -> tuple[Path, BundleManifest]:
    """Return the bundle's package directory and manifest, given the bundle root (as
    saved) or its package directory (as pip installs it)."""
    path = path.expanduser().resolve()
    manifest = BundleManifest.read(path)
    for package in (path / manifest.name, path):
        if (package / f"{manifest.module}.py").is_file():
            return package, manifest
    raise BundleError(f"bundle {path} is incomplete: {manifest.name}/{manifest.module}.py "
                      "is missing")


def _import_service_module(package: Path, manifest: BundleManifest) -> Any:
    digest = hashlib.sha1(str(package).encode()).hexdigest()[:10]
    module_name = f"_bentonb_bundle_{manifest.name}_{digest}"
    with _IMPORT_LOCK:
        if module_name in sys.modules:
            return sys.modules[module_name]
        if str(package) not in sys.path:
            sys.path.insert(0, str(package))  # the service's sibling modules
        spec = importlib.util.spec_from_file_location(module_name,
                                                      package / f"{manifest.module}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception:
            del sys.modules[module_name]
            raise
        return module


def load_bundle(path: str | Path) -> Any:
    """Import the bundle's service class, instantiate it, and load every artifact."""
    from bentonb.service import BentoService

    package, manifest = locate(Path(path))
    module = _import_service_module(package, manifest)
    cls = getattr(module, manifest.name, None)
    if not (isinstance(cls, type) and issubclass(cls, BentoService)):
        raise BundleError(f"{manifest.module}.py in {package} defines no BentoService "
                          f"named {manifest.name}")
    service = cls()
    for spec in manifest.artifacts:
        artifact_class(spec.type)
        if spec.name not in service.artifacts:
            raise BundleError(f"bundle has artifact '{spec.name}' that {manifest.name} does "
                              "not declare")
        if service.artifacts[spec.name].type_name != spec.type:
            raise BundleError(f"bundle saved artifact '{spec.name}' as {spec.type}, but "
                              f"{manifest.name} now declares "
                              f"{service.artifacts[spec.name].type_name}")
        service.artifacts[spec.name].load(package / "artifacts" / spec.name,
                                          spec.options, spec.metadata)
    root = package.parent if package.name == manifest.name and (
        package.parent / MANIFEST_FILE).is_file() else package
    mark_saved(service, manifest, root)
    return service
