"""Read a checked bundle directory back into a service instance with its models loaded.

The loader never imports :mod:`bentonb.service`: it finds the service class by
the name in the manifest and knows it by the marker every service class
declares (``__bentonb_service__``). Loading a bundle runs its code, so only
bundles from people you trust should be loaded; what the loader guarantees is
that nothing outside the bundle is read or executed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import threading
from pathlib import Path
from typing import Any

from bentonb.bundle.paths import BundleLocation, locate
from bentonb.bundle.writer import mark_saved
from bentonb.errors import BundleError
from bentonb.frameworks.base import artifact_class
from bentonb.models import models_of_bundle

#: The class attribute that marks a class the loader may instantiate as a service.
SERVICE_MARKER = "__bentonb_service__"

_IMPORT_LOCK = threading.Lock()


def _import_service_module(where: BundleLocation) -> Any:
    manifest, package = where.manifest, where.package
    digest = hashlib.sha1(str(package).encode()).hexdigest()[:10]
    module_name = f"_bentonb_bundle_{re.sub(r'[^A-Za-z0-9_]', '_', manifest.name)}_{digest}"
    with _IMPORT_LOCK:
        if module_name in sys.modules:
            return sys.modules[module_name]
        source = str(where.source_dir)
        if source not in sys.path:
            sys.path.insert(0, source)  # the service's sibling modules
        spec = importlib.util.spec_from_file_location(module_name, where.module_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception:
            del sys.modules[module_name]
            raise
        return module


def load_bundle(path: str | Path) -> Any:
    """Check the bundle at ``path``, import its service class, instantiate it, and load
    every artifact. A bundle naming anything outside itself is refused before any of
    its code runs."""
    where = locate(Path(path))
    manifest = where.manifest
    if manifest.kind == "1.x":
        return _load_service_object(where)
    module = _import_service_module(where)
    cls = getattr(module, manifest.name, None)
    if not (isinstance(cls, type) and getattr(cls, SERVICE_MARKER, False) is True):
        raise BundleError(f"{where.module_file.name} in {where.package} defines no service "
                          f"class named {manifest.name}")
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
        service.artifacts[spec.name].load(where.artifact_dir(spec.name), spec.options,
                                          spec.metadata)
    # The decorator's own path meant the author's directory; a bundle serves its copy.
    service.web_static_dir = where.static_dir
    mark_saved(service, manifest, where.root)
    return service


def _load_service_object(where: BundleLocation) -> Any:
    """A 1.x bundle: import its service module with the bundle's models found first,
    take the service object the manifest names, and load its runners' models."""
    manifest = where.manifest
    with models_of_bundle(where.models_home):
        module = _import_service_module(where)
        service = getattr(module, manifest.attribute, None)
        if not (hasattr(service, "inference_apis") and hasattr(service, "runners")):
            raise BundleError(f"{manifest.service} in {where.source_dir} is not a "
                              "bentonb.Service (svc = bentonb.Service(...))")
        if callable(getattr(service, "init_runners", None)):
            service.init_runners()
    mark_saved(service, manifest, where.root)
    return service
