"""``bentonb containerize|batch``: a bundle as a container image, or over big files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bentonb.cli.group import main
from bentonb.cli.k8s import write_for_image
from bentonb.errors import BentonbError


@main.command()
@click.argument("target")
@click.option("-t", "--tag", "image_tag", help="Image name:tag (default: name:version and "
                                                "name:latest, lowercased).")
@click.option("--base-image", help="Base image (default: python:X.Y-slim of the bundle).")
@click.option("--build-arg", "build_args", multiple=True, metavar="K=V",
              help="Build argument, repeatable.")
@click.option("--wheels", is_flag=True, help="Download every requirement as a wheel into the "
                                             "context: the build needs no network.")
@click.option("--output-dir", type=click.Path(file_okay=False),
              help="Where to write the build context (default: a temporary directory).")
@click.option("--push", is_flag=True, help="Push the image after building it (the tag must "
                                            "name a registry: -t ghcr.io/me/iris:1).")
@click.option("--k8s", "k8s_dir", type=click.Path(file_okay=False),
              help="Also write Kubernetes manifests for the built image into this directory "
                   "(`bentonb k8s` has their options).")
def containerize(target: str, image_tag: str | None, base_image: str | None,
                 build_args: tuple[str, ...], wheels: bool, output_dir: str | None,
                 push: bool, k8s_dir: str | None) -> None:
    """Build a container image of a bundle through the Docker Engine API ($DOCKER_HOST:
    Docker or Podman). Without an engine, write the build context and exit 3."""
    from bentonb.bundle import BundleManifest, open_bundle
    from bentonb.container import ContainerEngineUnavailable, check_push, image_tags
    from bentonb.container import containerize as build

    args = {}
    for pair in build_args:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not K=V", param_hint="--build-arg")
        args[key] = value
    path = click.get_current_context().with_resource(open_bundle(target))
    if push:
        try:
            check_push(image_tags(BundleManifest.read(path), image_tag))
        except BentonbError as exc:  # a usage error: before any build, one line, exit 2
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
    try:
        image = build(path, image_tag, base_image, args, wheels,
                      Path(output_dir) if output_dir else None, push,
                      log=lambda line: click.echo(line, err=True))
    except ContainerEngineUnavailable as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(3)
    if k8s_dir:
        write_for_image(path, image.tag, Path(k8s_dir))
    click.echo(image.run_command)


def _names(value: str | None) -> list[str] | None:
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    return names or None


@main.command()
@click.argument("target")
@click.argument("api_name", metavar="API")
@click.option("--input", "input_path", required=True,
              help="CSV, Parquet or JSON-lines file(s): a path, a glob or an fsspec URL.")
@click.option("--output", required=True, help="Where the predictions go.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "jsonl"]),
              help="Output format (default: from --output's name, else parquet).")
@click.option("--input-format", type=click.Choice(["csv", "parquet", "jsonl"]),
              help="Input format (default: from the input's name).")
@click.option("--scheduler", help="A dask.distributed scheduler, e.g. tcp://10.0.0.5:8786 "
                                   "(default: a local cluster sized to this machine).")
@click.option("--partition-rows", type=click.IntRange(min=1),
              help="About this many rows per partition (CSV and JSON lines).")
@click.option("--columns", help="Input columns the API receives, in order: a,b,c.")
@click.option("--keep-columns", help="Input columns copied to the output (default: all).")
@click.option("--max-error-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fail only when more than this share of rows failed.")
def batch(target: str, api_name: str, input_path: str, output: str, fmt: str | None,
          input_format: str | None, scheduler: str | None, partition_rows: int | None,
          columns: str | None, keep_columns: str | None, max_error_rate: float) -> None:
    """Run API of a bundle (TAG, directory or archive) over big files with Dask, keeping
    the rows' order."""
    from bentonb import batch as batch_job
    from bentonb.bundle import open_bundle

    # An archive is extracted for as long as the job runs (workers of a local cluster
    # read it there); a tag or directory is used where it is.
    path = click.get_current_context().with_resource(open_bundle(target))
    batch_job.run(str(path), api_name, input_path, output, format=fmt, input_format=input_format,
                  scheduler=scheduler, partition_rows=partition_rows, columns=_names(columns),
                  keep_columns=_names(keep_columns), max_error_rate=max_error_rate)
