"""Write a service into a bundle: into the store, or into a directory of its own.

Nothing half-written is ever visible and nothing written is lost to a crash:
a bundle is written into a hidden temporary directory on the same file system,
every file and directory is flushed to disk, then one rename puts it in place
and the parent directory is flushed too. The temporary directory is removed
however the save ends (an error, Ctrl-C).
"""

from __future__ import annotations

import datetime
import logging
import os
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bentonb._version import __version__
from bentonb.bundle import templates
from bentonb.bundle.manifest import (
    MANIFEST_FILE,
    ApiSpec,
    ArtifactSpec,
    BundleManifest,
    EnvInfo,
)
from bentonb.bundle.requirements import build_requirements, read_requirements_file
from bentonb.bundle.source import capture_source, imported_top_level_names
from bentonb.errors import ArtifactNotPacked, BundleError, InvalidArgument
from bentonb.store import LocalStore, fsync_dir
from bentonb.tags import check_labels, check_name, check_version, new_version

_MAX_SAVE_TRIES = 5
#: Where, in the package directory, the ``@web_static_content`` files are copied.
STATIC_DIR = "web_static_content"
#: ``s3://bucket``, ``gs://...``, ``http://...``: a URL, not a directory here (also
#: as ``Path`` spells it, ``s3:/bucket``; a scheme of two letters or more is never a
#: Windows drive).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")


class _StderrUntilConfigured(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (a notebook's output area, a script's
    terminal) until logging is configured for bentonb or the root logger; from then on
    the records reach those handlers instead, and this one stays quiet."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger("bentonb").handlers or logging.getLogger().handlers:
            return
        self.stream = sys.stderr
        super().emit(record)


#: The save messages, at INFO, visible without any logging configuration as the
#: tutorials show them: ``[time] INFO - BentoService bundle 'Name:version' saved to: PATH``.
SAVE_LOG = logging.getLogger("bentonb.bundle")
SAVE_LOG.setLevel(logging.INFO)
_default = _StderrUntilConfigured()
_default.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s - %(message)s"))
SAVE_LOG.addHandler(_default)


def sync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` (and ``root``) to disk, children
    before their directory, so a rename of ``root`` never publishes lost data."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def write_bundle(service: Any, target: Path, version: str,
                 labels: dict[str, str] | None = None) -> BundleManifest:
    """Write ``service`` into the empty directory ``target``; return its manifest."""
    captured = capture_source(type(service))
    empty = [a.name for a in service.artifacts if not a.is_packed]
    if empty:
        raise ArtifactNotPacked(
            f"cannot save {service.name}: artifact(s) {', '.join(empty)} not packed; "
            f"call svc.pack('{empty[0]}', model) first"
        )
    name = service.name
    package = target / name
    package.mkdir(parents=True)
    (package / f"{captured.module}.py").write_text(captured.source, encoding="utf-8")
    for rel, text in captured.local_files.items():
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_text(text, encoding="utf-8")

    static = _copy_static_content(service, package)
    artifact_specs = []
    modules = set()
    for art in service.artifacts:
        options = art.save(package / "artifacts" / art.name)
        artifact_specs.append(ArtifactSpec(art.name, art.type_name, art.framework,
                                           art.framework_version(), dict(art.metadata), options))
        modules.update(art.modules)

    spec = service.env
    if spec.infer_pip_packages:
        local = {Path(rel).parts[0].removesuffix(".py") for rel in captured.local_files}
        for text in [captured.source, *captured.local_files.values()]:
            modules.update(imported_top_level_names(text) - local)
    user_lines = list(spec.pip_packages)
    if spec.requirements_txt_file:
        user_lines = read_requirements_file(spec.requirements_txt_file) + user_lines
    requirements = build_requirements(modules, user_lines)

    manifest = BundleManifest(
        name=name,
        version=version,
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        module=captured.module,
        bentonb_version=__version__,
        python_version=platform.python_version(),
        labels=check_labels(labels),
        apis=[api_spec(a) for a in service.inference_apis],
        artifacts=artifact_specs,
        env=EnvInfo(list(spec.pip_packages), spec.infer_pip_packages,
                    spec.docker_base_image, "setup.sh" if spec.setup_sh else None),
        web_static_content=static,
    )
    write_generated_files(target, manifest, requirements, spec.setup_sh)
    return manifest


def write_generated_files(target: Path, manifest: BundleManifest, requirements: list[str],
                          setup_sh: str | None = None) -> None:
    """Write what every bundle has besides its service and models: both copies of the
    manifest, the package ``__init__``, requirements.txt, Dockerfile, entrypoint,
    .dockerignore, pyproject.toml, README.md, ``wheels/`` and the setup script."""
    package = target / manifest.package
    manifest.write(target / MANIFEST_FILE)
    manifest.write(package / MANIFEST_FILE)
    (package / "__init__.py").write_text(templates.package_init(manifest), encoding="utf-8")
    (target / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements),
                                             encoding="utf-8")
    (target / "Dockerfile").write_text(templates.dockerfile(manifest), encoding="utf-8")
    entry = target / "docker-entrypoint.sh"
    entry.write_text(templates.ENTRYPOINT, encoding="utf-8")
    entry.chmod(0o755)
    (target / ".dockerignore").write_text(templates.DOCKERIGNORE, encoding="utf-8")
    (target / "pyproject.toml").write_text(templates.pyproject(manifest, requirements),
                                           encoding="utf-8")
    (target / "README.md").write_text(templates.readme(manifest), encoding="utf-8")
    (target / "wheels").mkdir()
    (target / "wheels" / ".keep").write_text("", encoding="utf-8")
    if setup_sh:
        script = setup_sh
        if Path(script).is_file():
            script = Path(script).read_text(encoding="utf-8")
        (target / "setup.sh").write_text(script, encoding="utf-8")


def _copy_static_content(service: Any, package: Path) -> str | None:
    """Copy the service's ``@web_static_content`` directory into the package directory;
    return its name there (None without one). Links are copied as the files they
    point to, so the bundle holds no link."""
    source = getattr(service, "web_static_dir", None)
    if source is None:
        return None
    if not Path(source).is_dir():
        raise InvalidArgument(f"@web_static_content({type(service)._web_static_content!r}) "
                              f"of {service.name}: no directory at {source}; create it or "
                              "point the decorator at the folder holding index.html")
    shutil.copytree(source, package / STATIC_DIR, symlinks=False)
    return STATIC_DIR


def api_spec(api: Any) -> ApiSpec:
    """The manifest entry of one inference API."""
    return ApiSpec(
        name=api.name, route=api.route, input_type=api.input_adapter.type_name,
        output_type=api.output_adapter.type_name, batch=api.batch,
        mb_max_batch_size=api.mb_max_batch_size, mb_max_latency=api.mb_max_latency,
        doc=api.doc, input_config=api.input_adapter.config(),
        output_config=api.output_adapter.config(),
    )


def save_bundle(service: Any, home: str | Path | None = None, version: str | None = None,
                labels: dict[str, str] | None = None) -> Path:
    """Save ``service`` as a new version in the store at ``home`` (default
    ``$BENTONB_HOME``); return the bundle's path.

    Without ``version`` two processes saving at once always get distinct versions;
    with one, the second saver gets a clear error instead of replacing the first.
    """
    _refuse_url(home, "base_path")
    labels = check_labels(labels)
    path, manifest = publish(service.name, lambda target, chosen: write_bundle(
        service, target, chosen, labels), home, version)
    mark_saved(service, manifest, path)
    SAVE_LOG.info("BentoService bundle '%s' saved to: %s", manifest.tag, path)
    return path


def publish(name: str, write: Callable[[Path, str], BundleManifest],
            home: str | Path | None = None,
            version: str | None = None) -> tuple[Path, BundleManifest]:
    """Add a new version of bundle ``name`` to the store at ``home``:
    ``write(directory, version)`` writes the bundle into an empty directory, which then
    appears in the store whole or not at all. Returns the bundle's path and manifest."""
    store = LocalStore(home)
    name = check_name(name)
    if version is not None:
        check_version(version)
    for _ in range(_MAX_SAVE_TRIES):
        chosen = version or new_version()
        if store.path(name, chosen).exists():
            if version:
                raise _taken(name, chosen)
            continue
        with store.staging("tmp") as tmp:
            manifest = write(tmp / "bundle", chosen)
            sync_tree(tmp / "bundle")
            try:
                entry = store.add(tmp / "bundle", name, chosen)
            except FileExistsError:
                if version:
                    raise _taken(name, chosen) from None
                continue  # another process took this version a moment before us
        return entry.path, manifest
    raise BundleError(f"could not find a free version for {name}")


def _refuse_url(path: str | Path | None, what: str) -> None:
    """A remote location is refused before anything is written (no ``s3:`` directory)."""
    if path is not None and _URL.match(str(path)):
        raise InvalidArgument(
            f"{what}={str(path)!r}: remote stores are not supported; give a local directory "
            "(or none for $BENTONB_HOME), then move the bundle with `bentonb export`")


def _taken(name: str, version: str) -> InvalidArgument:
    return InvalidArgument(f"{name}:{version} already exists in the store; choose another "
                           "version or delete it first")


def save_to_dir(service: Any, path: str | Path, version: str | None = None,
                labels: dict[str, str] | None = None) -> Path:
    """Save ``service`` as a bundle at ``path`` (a new or empty directory)."""
    _refuse_url(path, "path")
    path = Path(path).expanduser().resolve()
    check_name(service.name)
    version = check_version(version) if version is not None else new_version()
    labels = check_labels(labels)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidArgument(f"cannot save into {path}: it exists and is not an empty directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        manifest = write_bundle(service, tmp / "bundle", version, labels)
        sync_tree(tmp / "bundle")
        if path.is_dir():
            path.rmdir()
        os.rename(tmp / "bundle", path)
        fsync_dir(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mark_saved(service, manifest, path)
    SAVE_LOG.info("BentoService bundle '%s' saved to: %s", manifest.tag, path)
    return path


def mark_saved(service: Any, manifest: BundleManifest, path: Path) -> None:
    """Record on ``service`` the bundle it was saved as (or loaded from)."""
    service.version, service.bundle_path = manifest.version, path
    service.labels = dict(manifest.labels)
