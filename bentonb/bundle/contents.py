"""What goes into a bundle directory: the service's source, its artifacts, the manifest
and the generated files (requirements, Dockerfile, pyproject, README, package init).

Owns the layout of one bundle written into an empty directory it is given; it never
chooses where a bundle lives, never renames into the store and never flushes to disk
(:mod:`bentonb.bundle.writer` does, around it). It must never import
:mod:`bentonb.bundle.writer`, the store, the service packages or anything above the
bundle layer: it reads a service only through the attributes every generation offers.
"""

from __future__ import annotations

import datetime
import platform
import shutil
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
from bentonb.tags import check_labels

#: Where, in the package directory, the ``@web_static_content`` files are copied.
STATIC_DIR = "web_static_content"


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
