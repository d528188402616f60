"""``bentonb build``: a 1.x service (bentofile.yaml) as a bundle of the store."""

from __future__ import annotations

import click

from bentonb.cli.group import main, parse_labels


@main.command()
@click.argument("build_dir", default=".", type=click.Path(file_okay=False))
@click.option("-f", "--bentofile", type=click.Path(dir_okay=False),
              help="The bentofile (default: BUILD_DIR/bentofile.yaml).")
@click.option("--version", "version", help="The bundle's version (default: a new one).")
@click.option("--labels", help="Labels to add, key=value[,key=value].")
def build(build_dir: str, bentofile: str | None, version: str | None,
          labels: str | None) -> None:
    """Build the service that BUILD_DIR/bentofile.yaml names (service: "module:svc")
    into a bundle of the store, with its included files and its runners' models.
    Building imports the service module: it runs BUILD_DIR's code."""
    from bentonb.bundle.build import build_bundle
    from bentonb.bundle.manifest import BundleManifest

    path = build_bundle(build_dir, bentofile, version, parse_labels(labels))
    manifest = BundleManifest.read(path)
    click.echo(f"Successfully built {manifest.tag} at {path}")
    click.echo(f"  models: {', '.join(manifest.models) or 'none'}")
    click.echo(f"  serve:  bentonb serve {manifest.name}:latest")
