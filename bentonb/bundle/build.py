"""``bentonb build``: a 1.x service and its models as a bundle of the store.

The bundle has the same format as a saved 0.x service (one manifest, the same
generated Dockerfile, pyproject, README and pinned requirements), with
``kind: 1.x``, the ``service`` it serves and the ``models`` it carries::

    <Name>/<version>/bento.yaml, requirements.txt, Dockerfile, pyproject.toml, ...
    <Name>/<version>/<package>/src/...            the files the bentofile included
    <Name>/<version>/<package>/models/<m>/<v>/    each runner's model, as in the store

Building imports the service module (its runners name the models to copy), so
it runs the build directory's code, as serving does. Never imports the sdk:
a service is known by what it has (``inference_apis``, ``runners``).
"""

from __future__ import annotations

import datetime
import fnmatch
import hashlib
import importlib.util
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

from bentonb._version import __version__
from bentonb.bundle.bentofile import Bentofile, read_bentofile
from bentonb.bundle.manifest import BundleManifest, EnvInfo
from bentonb.bundle.requirements import build_requirements, read_requirements_file
from bentonb.bundle.source import imported_top_level_names
from bentonb.bundle.writer import SAVE_LOG, api_spec, publish, write_generated_files
from bentonb.errors import InvalidArgument
from bentonb.tags import check_labels

#: Folders a build never copies, wherever they are.
_SKIPPED = {"__pycache__", ".ipynb_checkpoints", ".git", ".venv", "node_modules"}


def included_files(bentofile: Bentofile) -> list[str]:
    """The files to copy, relative to the build directory (POSIX), sorted: matched by
    an include pattern, by no exclude pattern, outside hidden and cache folders."""
    root = bentofile.build_dir
    found: set[str] = set()
    for pattern in bentofile.include:
        for path in root.glob(pattern):
            rel = path.relative_to(root)
            if not path.is_file() or any(part in _SKIPPED or part.startswith(".")
                                         for part in rel.parts):
                continue
            if not path.resolve().is_relative_to(root):
                raise InvalidArgument(f"bentofile 'include': {rel} resolves outside the "
                                      f"build directory {root}")
            text = rel.as_posix()
            if not any(fnmatch.fnmatch(text, p) or fnmatch.fnmatch(text, p.rstrip("/") + "/*")
                       for p in bentofile.exclude):
                found.add(text)
    module = bentofile.module_file.relative_to(root).as_posix()
    if module not in found:
        raise InvalidArgument(f"bentofile 'include' does not cover the service module "
                              f"{module}; add it (or drop 'include' to take every .py file)")
    return sorted(found)


def import_service(bentofile: Bentofile) -> Any:
    """Import the service module from the build directory and return the service
    object; anything else is an error naming the bentofile's ``service``."""
    folder = str(bentofile.build_dir)
    digest = hashlib.sha1(str(bentofile.module_file).encode()).hexdigest()[:10]
    name = f"_bentonb_build_{bentofile.module.replace('.', '_')}_{digest}"
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the service's sibling modules
    spec = importlib.util.spec_from_file_location(name, bentofile.module_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    service = getattr(module, bentofile.attribute, None)
    if service is None:
        names = [n for n in vars(module) if not n.startswith("_")]
        raise InvalidArgument(f"bentofile 'service': {bentofile.module} has no attribute "
                              f"'{bentofile.attribute}' (it defines: {', '.join(names[:20])})")
    if not (hasattr(service, "inference_apis") and hasattr(service, "runners")):
        raise InvalidArgument(f"bentofile 'service': {bentofile.service} is a "
                              f"{type(service).__name__}, not a bentonb.Service "
                              "(svc = bentonb.Service(...))")
    return service


def service_models(service: Any) -> list[Any]:
    """The stored models the service uses: its runners' models, then ``models=``."""
    found: dict[str, Any] = {}
    for model in [r.model for r in service.runners] + list(getattr(service, "models", [])):
        if hasattr(model, "tag") and hasattr(model, "path"):
            found.setdefault(str(model.tag), model)
    return list(found.values())


def write_built_bundle(bentofile: Bentofile, service: Any, files: list[str], target: Path,
                       version: str, labels: dict[str, str]) -> BundleManifest:
    """Write the bundle of ``service`` into the empty directory ``target``."""
    models = service_models(service)
    manifest = BundleManifest(
        name=service.name, version=version,
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        module=bentofile.module, bentonb_version=__version__,
        python_version=platform.python_version(), labels=labels,
        apis=[api_spec(a) for a in service.inference_apis], artifacts=[],
        env=EnvInfo(list(bentofile.packages), True, bentofile.base_image, None,
                    list(bentofile.system_packages)),
        kind="1.x", service=bentofile.service, models=[str(m.tag) for m in models])
    manifest.check()
    package = target / manifest.package
    sources: dict[str, str] = {}
    for rel in files:
        destination = package / "src" / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        # Bytes, not the file itself: a link in the build directory becomes a file.
        destination.write_bytes((bentofile.build_dir / rel).read_bytes())
        if rel.endswith(".py"):
            sources[rel] = destination.read_text(encoding="utf-8")
    for model in models:
        shutil.copytree(model.path, package / "models" / model.tag.name / model.tag.version,
                        symlinks=False)
    local = {rel.split("/")[0].removesuffix(".py") for rel in sources}
    modules = {m.framework for m in models}
    for text in sources.values():
        modules.update(imported_top_level_names(text) - local)
    user_lines = list(bentofile.packages)
    if bentofile.requirements_txt is not None:
        user_lines = read_requirements_file(bentofile.requirements_txt) + user_lines
    write_generated_files(target, manifest, build_requirements(modules, user_lines))
    return manifest


def build_bundle(build_dir: str | Path = ".", bentofile: str | Path | None = None,
                 version: str | None = None, labels: dict[str, str] | None = None,
                 home: str | Path | None = None) -> Path:
    """Build the service a bentofile names into a new bundle of the store at ``home``
    (default ``$BENTONB_HOME``), named after the service; return its path. The
    bentofile is checked before any code runs; ``labels`` add to its labels."""
    checked = read_bentofile(build_dir, bentofile)
    files = included_files(checked)
    all_labels = {**checked.labels, **check_labels(labels)}
    service = import_service(checked)
    path, manifest = publish(service.name, lambda target, chosen: write_built_bundle(
        checked, service, files, target, chosen, all_labels), home, version)
    SAVE_LOG.info("Built bundle '%s' (%d files, %d models) at: %s", manifest.tag, len(files),
                  len(manifest.models), path)
    return path
