"""Container images of bundles, built through the Docker Engine API.

The ``docker`` Python SDK speaks to whatever ``DOCKER_HOST`` names, so Docker
and Podman both work. Without a reachable engine the build context is still
written, with the exact ``docker build`` command to run elsewhere.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bentonb.bundle.manifest import BundleManifest
from bentonb.errors import BentonbError


class ContainerEngineUnavailable(BentonbError):
    """No Docker-compatible engine could be reached; the context was written anyway."""

    def __init__(self, message: str, context: Path, command: str) -> None:
        super().__init__(message)
        self.context, self.command = context, command


class ImageBuildFailed(BentonbError):
    """The engine reached the build but a step failed."""


@dataclass
class BuiltImage:
    tag: str
    context: Path

    @property
    def run_command(self) -> str:
        return f"docker run -p 5000:5000 {self.tag}"


def default_image_tag(manifest: BundleManifest) -> str:
    return f"{manifest.name.lower()}:{manifest.version.lower()}"


def write_context(bundle: Path, output_dir: Path | None = None) -> Path:
    """Copy the bundle into a build context directory and return it."""
    target = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="bentonb-ctx-"))
    if target.exists() and any(target.iterdir()):
        raise BentonbError(f"build context directory {target} is not empty")
    shutil.copytree(bundle, target, dirs_exist_ok=True)
    return target


def containerize(bundle: str | Path, tag: str | None = None, output_dir: Path | None = None,
                 log: Callable[[str], None] = print) -> BuiltImage:
    """Build an image from a bundle directory; stream the build log through ``log``."""
    bundle = Path(bundle)
    manifest = BundleManifest.read(bundle)
    tag = tag or default_image_tag(manifest)
    context = write_context(bundle, output_dir)
    command = f"docker build -t {tag} {context}"
    try:
        import docker
        from docker.errors import BuildError, DockerException

        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - no SDK, no socket, refused: all mean "no engine"
        raise ContainerEngineUnavailable(
            f"no container engine is reachable ({type(exc).__name__}); the build context is "
            f"in {context}; build it where Docker or Podman runs: {command}",
            context, command) from None
    log(f"building {tag} from {context}")
    try:
        for chunk in client.api.build(path=str(context), tag=tag, decode=True, rm=True):
            if "stream" in chunk and chunk["stream"].strip():
                log(chunk["stream"].rstrip())
            if "error" in chunk:
                raise BuildError(chunk["error"], [])
    except (BuildError, DockerException) as exc:
        raise ImageBuildFailed(f"building {tag} failed: {exc}") from exc
    log(f"built {tag}; run it with: docker run -p 5000:5000 {tag}")
    return BuiltImage(tag, context)
