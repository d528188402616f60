"""Write a service into a bundle directory, atomically."""

from __future__ import annotations

import datetime
import os
import platform
import secrets
import shutil
import tempfile
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
from bentonb.errors import ArtifactNotPacked, InvalidArgument

_VERSION_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def new_version() -> str:
    """``YYYYMMDDHHMMSS_XXXXXX``: the UTC time and 6 random hex digits."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return f"{now:%Y%m%d%H%M%S}_{secrets.token_hex(3).upper()}"


def check_version(version: str) -> str:
    if (not isinstance(version, str) or not version or version[0] in ".-"
            or not set(version) <= _VERSION_CHARS or ".." in version):
        raise InvalidArgument(f"invalid version {version!r}: use letters, digits, '_', '.' "
                              "and '-', starting with a letter or digit")
    return version


def check_labels(labels: Any) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise InvalidArgument(f"labels must be a dict of strings, got {labels!r}")
    for key in labels:
        if not isinstance(key, str) or not key or not set(key) <= _VERSION_CHARS | {"/"}:
            raise InvalidArgument(f"invalid label key {key!r}")
    return {k: str(v) for k, v in labels.items()}


def parse_labels(text: str | None) -> dict[str, str]:
    """``k=v,k2=v2`` (from a flag) -> a labels dict."""
    labels: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidArgument(f"--labels takes key=value pairs separated by commas; "
                                  f"'{pair}' is not key=value (e.g. stage=dev)")
        labels[key.strip()] = value.strip()
    return check_labels(labels)


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
    )
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
    if spec.setup_sh:
        script = spec.setup_sh
        if Path(script).is_file():
            script = Path(script).read_text(encoding="utf-8")
        (target / "setup.sh").write_text(script, encoding="utf-8")
    return manifest


def api_spec(api: Any) -> ApiSpec:
    """The manifest entry of one inference API."""
    return ApiSpec(
        name=api.name, route=api.route, input_type=api.input_adapter.type_name,
        output_type=api.output_adapter.type_name, batch=api.batch,
        mb_max_batch_size=api.mb_max_batch_size, mb_max_latency=api.mb_max_latency,
        doc=api.doc, input_config=api.input_adapter.config(),
        output_config=api.output_adapter.config(),
    )


def write_atomically(service: Any, target: Path, version: str,
                     labels: dict[str, str] | None = None) -> BundleManifest:
    """Write into a hidden temporary sibling of ``target`` and rename it into place, so
    no half-written bundle is ever visible at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        manifest = write_bundle(service, tmp / "bundle", version, labels)
        os.rename(tmp / "bundle", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def save_to_dir(service: Any, path: Path, version: str | None = None,
                labels: dict[str, str] | None = None) -> Path:
    """Save ``service`` as a bundle at ``path`` (a new or empty directory)."""
    path = path.expanduser().resolve()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidArgument(f"cannot save into {path}: it exists and is not an empty directory")
    if path.is_dir():
        path.rmdir()
    manifest = write_atomically(service, path, check_version(version or new_version()), labels)
    mark_saved(service, manifest, path)
    return path


def mark_saved(service: Any, manifest: BundleManifest, path: Path) -> None:
    """Record on ``service`` the bundle it was saved as (or loaded from)."""
    service.version, service.bundle_path = manifest.version, path
    service.labels = dict(manifest.labels)
