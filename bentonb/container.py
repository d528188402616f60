"""Container images of bundles, built through the Docker Engine API.

The ``docker`` Python SDK speaks to whatever ``DOCKER_HOST`` names, so Docker
and Podman both work. Without a reachable engine the build context is still
written, with the exact ``docker build`` command to run elsewhere. With
``wheels=True`` every requirement (bentonb included) is downloaded as a wheel
into the context on this machine, and the image installs from there with
``--no-index``: the build itself needs no network.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bentonb._version import __version__
from bentonb.bundle.manifest import BundleManifest
from bentonb.errors import BentonbError

Log = Callable[[str], None]


class ContainerEngineUnavailable(BentonbError):
    """No Docker-compatible engine could be reached; the context was written anyway."""

    def __init__(self, message: str, context: Path, command: str) -> None:
        super().__init__(message)
        self.context, self.command = context, command


class ImageBuildFailed(BentonbError):
    """The engine ran the build and a step failed, or the image could not be pushed."""


@dataclass
class BuiltImage:
    tag: str
    context: Path
    log: list[str] = field(default_factory=list)

    @property
    def run_command(self) -> str:
        return f"docker run -p 5000:5000 {self.tag}"


def default_image_tag(manifest: BundleManifest) -> str:
    """``name:version``, lowercased (image references must be)."""
    return f"{manifest.name.lower()}:{manifest.version.lower()}"


def image_tags(manifest: BundleManifest, tag: str | None = None) -> list[str]:
    """The tags an image gets: ``tag`` alone when given, else ``name:version`` and
    ``name:latest`` (lowercased), so ``docker run name`` runs the newest build."""
    if tag:
        return [tag]
    return [default_image_tag(manifest), f"{manifest.name.lower()}:latest"]


def registry_of(tag: str) -> str | None:
    """The registry host a tag names (``ghcr.io/me/iris:1`` -> ``ghcr.io``), else None:
    as Docker reads it, the first part is a registry when it holds a '.' or a ':', or is
    ``localhost``."""
    first, slash, _rest = tag.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def check_push(tags: list[str]) -> None:
    """Refuse to push a tag that names no registry (it would go to Docker Hub's
    ``library/``, which is never what is meant)."""
    bare = [t for t in tags if registry_of(t) is None]
    if bare:
        raise BentonbError(
            f"--push needs a registry in the image tag; '{bare[0]}' names none: give "
            "-t REGISTRY/NAME:TAG, e.g. -t ghcr.io/me/iris:1 or -t localhost:5000/iris:1")


def build_command(tag: str | list[str], context: Path, build_args: Mapping[str, str]) -> str:
    args = "".join(f" --build-arg {shlex.quote(f'{k}={v}')}" for k, v in build_args.items())
    tags = "".join(f" -t {shlex.quote(t)}" for t in ([tag] if isinstance(tag, str) else tag))
    return f"docker build{args}{tags} {shlex.quote(str(context))}"


def _bentonb_wheel(into: Path) -> None:
    """A wheel of the bentonb running here (built from its source tree when it has one)."""
    source = Path(__file__).resolve().parents[1]
    if (source / "pyproject.toml").is_file():
        args = ["wheel", "--no-deps", "--no-build-isolation", "-w", str(into), str(source)]
    else:
        args = ["download", "--no-deps", "-d", str(into), f"bentonb=={__version__}"]
    _pip(args)


def _pip(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise ImageBuildFailed(f"pip {args[0]} failed:\n{tail}")


def download_wheels(context: Path, log: Log = print) -> int:
    """Put wheels for every requirement, and for bentonb and its dependencies, into
    ``context/wheels``; return how many there are."""
    wheels = context / "wheels"
    wheels.mkdir(exist_ok=True)
    log("downloading wheels for an offline build ...")
    _bentonb_wheel(wheels)
    own = sorted(wheels.glob("bentonb-*.whl"))
    _pip(["download", "-q", "--only-binary=:all:", "-d", str(wheels),
          "-r", str(context / "requirements.txt"), *map(str, own)])
    count = len(list(wheels.glob("*.whl")))
    log(f"{count} wheels in {wheels}")
    return count


def write_context(bundle: Path, output_dir: Path | None = None, wheels: bool = False,
                  base_image: str | None = None, log: Log = print) -> Path:
    """Copy the bundle into a build context directory, with its Dockerfile starting
    ``FROM base_image`` when one is given, and with wheels if asked."""
    target = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="bentonb-ctx-"))
    if target.exists() and any(target.iterdir()):
        raise BentonbError(f"build context directory {target} is not empty")
    shutil.copytree(bundle, target, dirs_exist_ok=True)
    if base_image:
        dockerfile = target / "Dockerfile"
        lines = dockerfile.read_text().splitlines()
        first = next(i for i, line in enumerate(lines) if line.startswith("FROM "))
        lines[first] = f"FROM {base_image}"
        dockerfile.write_text("\n".join(lines) + "\n")
    if wheels:
        download_wheels(target, log)
    return target


def _client():
    import docker

    client = docker.from_env(timeout=600)
    client.ping()
    return client


def containerize(bundle: str | Path, tag: str | None = None, base_image: str | None = None,
                 build_args: Mapping[str, str] | None = None, wheels: bool = False,
                 output_dir: Path | None = None, push: bool = False,
                 log: Log = print) -> BuiltImage:
    """Build an image from a bundle directory, streaming the build log through ``log``.

    Without ``tag`` the image is ``name:version`` and ``name:latest``. With ``push``
    the tag must name a registry; that is checked before anything is built."""
    bundle = Path(bundle)
    manifest = BundleManifest.read(bundle)
    tags = image_tags(manifest, tag)
    tag = tags[0]
    if push:
        check_push(tags)
    args = dict(build_args or {})
    context = write_context(bundle, output_dir, wheels, base_image, log)
    log(f"wrote the build context to {context}")
    command = build_command(tags, context, args)
    try:
        client = _client()
    except Exception as exc:  # noqa: BLE001 - no SDK, no socket, refused: all mean "no engine"
        raise ContainerEngineUnavailable(
            f"no container engine is reachable ({type(exc).__name__}); the build context is "
            f"in {context}; build it where Docker or Podman runs: {command}",
            context, command) from None
    image = BuiltImage(tag, context)

    def emit(line: str) -> None:
        image.log.append(line)
        log(line)

    try:
        emit(f"building {tag} from {context}")
        from docker.errors import APIError, DockerException

        try:
            stream = client.api.build(path=str(context), tag=tag, buildargs=args, decode=True,
                                      rm=True, forcerm=True, network_mode="host")
            for chunk in stream:
                text = chunk.get("stream") or chunk.get("status") or ""
                if text.strip():
                    emit(text.rstrip())
                if "error" in chunk:
                    raise ImageBuildFailed(f"building {tag} failed: {chunk['error'].strip()}")
            for extra in tags[1:]:
                repository, _, version = extra.rpartition(":")
                client.api.tag(tag, repository, version)
                emit(f"tagged {extra}")
        except (APIError, DockerException) as exc:
            raise ImageBuildFailed(f"building {tag} failed: {exc}") from exc
        for pushed in tags if push else []:
            repository, _, version = pushed.rpartition(":")
            emit(f"pushing {pushed}")
            for chunk in client.images.push(repository, version, stream=True, decode=True):
                if "error" in chunk:
                    raise ImageBuildFailed(f"pushing {pushed} failed: {chunk['error']}")
    finally:
        if output_dir is None:  # a context of our own: once built, only the image is kept
            shutil.rmtree(context, ignore_errors=True)
    emit(f"built {tag}; run it with: {image.run_command}")
    return image
