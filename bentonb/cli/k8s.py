"""``bentonb k8s``: Kubernetes manifests for a bundle's image, to a directory or stdout.

``containerize --k8s DIR`` calls :func:`write_for_image` once its image is built.
"""

from __future__ import annotations

from pathlib import Path

import click

from bentonb.cli.group import main
from bentonb.errors import InvalidArgument


class FlagError(click.ClickException):
    """A flag's value is wrong: one line naming it, and exit code 2 as for usage errors."""

    exit_code = 2


def write_for_image(bundle: Path, image: str, directory: Path) -> list[Path]:
    """Write the default manifests for ``image`` (built from ``bundle``) into
    ``directory``; say which files were written on stderr."""
    from bentonb.bundle.manifest import BundleManifest
    from bentonb.k8s import K8sOptions, render, write_manifests

    paths = write_manifests(render(BundleManifest.read(bundle), K8sOptions(image=image)),
                            directory)
    for path in paths:
        click.echo(f"wrote {path}", err=True)
    return paths


@main.command("k8s")
@click.argument("target")
@click.option("--image", help="Image reference (default: name:version, as `bentonb "
                              "containerize` tags it).")
@click.option("--name", help="Name of the Deployment, Service and the rest (default: the "
                             "bundle's name, lowercased, '-' for '_').")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--replicas", type=int, default=1, show_default=True)
@click.option("--cpu", default="500m", show_default=True, help="CPU request per pod.")
@click.option("--memory", default="512Mi", show_default=True, help="Memory request per pod.")
@click.option("--cpu-limit", default="1", show_default=True)
@click.option("--memory-limit", default="1Gi", show_default=True,
              help="Memory limit (the pod is killed above it).")
@click.option("--graceful-timeout", type=float, default=10, show_default=True,
              help="Seconds requests in flight may take after SIGTERM (the server's flag).")
@click.option("--drain-delay", type=int, default=5, show_default=True,
              help="Seconds a stopping pod keeps serving while the Service drops it.")
@click.option("--startup-timeout", type=int, default=300, show_default=True,
              help="Seconds the models may take to load before the pod is restarted.")
@click.option("--api-key-secret", metavar="NAME",
              help="Secret holding the API key under 'api-key' (default: NAME-api-key).")
@click.option("--no-api-key", is_flag=True,
              help="Start pods without that Secret (then no key is asked for).")
@click.option("--secret-manifest", is_flag=True,
              help="Also write secret.yaml with a new random API key.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="HOST",
              help="Another Host the server answers (an Ingress name); repeatable.")
@click.option("--hpa-max", type=int, help="Add a HorizontalPodAutoscaler up to this many pods.")
@click.option("--hpa-min", type=int, help="Its fewest pods (default: --replicas).")
@click.option("--hpa-cpu", type=int, help="Its target CPU use, % of the request (default: 70).")
@click.option("--cluster-domain", default="cluster.local", show_default=True)
@click.option("-o", "--output-dir", type=click.Path(file_okay=False),
              help="Write one file per manifest here (default: one YAML stream to stdout).")
def k8s(target: str, image: str | None, name: str | None, namespace: str, replicas: int,
        cpu: str, memory: str, cpu_limit: str, memory_limit: str, graceful_timeout: float,
        drain_delay: int, startup_timeout: int, api_key_secret: str | None,
        no_api_key: bool, secret_manifest: bool, allow_hosts: tuple[str, ...],
        hpa_max: int | None, hpa_min: int | None, hpa_cpu: int | None, cluster_domain: str,
        output_dir: str | None) -> None:
    """Kubernetes manifests (Deployment, Service, PodDisruptionBudget, and when asked a
    HorizontalPodAutoscaler and a Secret) serving the image of a bundle (TAG or
    directory)."""
    from bentonb.bundle import resolve
    from bentonb.bundle.manifest import BundleManifest
    from bentonb.container import default_image_tag
    from bentonb.k8s import K8sOptions, render, to_yaml, write_manifests

    manifest = BundleManifest.read(resolve(target))
    options = K8sOptions(
        image=image or default_image_tag(manifest), name=name, namespace=namespace,
        replicas=replicas, cpu=cpu, memory=memory, cpu_limit=cpu_limit,
        memory_limit=memory_limit, graceful_timeout=graceful_timeout, drain_delay=drain_delay,
        startup_timeout=startup_timeout, api_key_secret=api_key_secret,
        api_key_required=not no_api_key, secret_manifest=secret_manifest,
        allow_hosts=tuple(h for value in allow_hosts for h in value.split(",") if h.strip()),
        hpa_min=hpa_min, hpa_max=hpa_max, hpa_cpu=hpa_cpu, cluster_domain=cluster_domain)
    try:
        documents = render(manifest, options)
    except InvalidArgument as exc:
        raise FlagError(str(exc)) from None
    if output_dir is None:
        click.echo(to_yaml(documents), nl=False)
        return
    for path in write_manifests(documents, Path(output_dir)):
        click.echo(f"wrote {path}", err=True)
