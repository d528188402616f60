"""``bentonb list|get|delete|run|export|import|openapi``: the bundles of the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bentonb.cli.group import main, parse_labels, store
from bentonb.errors import BentonbError


@main.command("list")
@click.option("--labels", help="Only bundles with these labels: k=v,k2=v2.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
@click.argument("name", required=False)
def list_command(labels: str | None, output: str, name: str | None) -> None:
    """List saved bundles (of NAME), oldest first."""
    _print_bundles(store().list(name, parse_labels(labels)), output)


def _print_bundles(stored: list[Any], output: str) -> None:
    """A table (or JSON) of bundles, one row each; a damaged one is named and skipped."""
    from bentonb.bundle import BundleManifest

    bundles = []
    for bundle in stored:
        try:
            bundles.append((bundle, BundleManifest.read(bundle.path)))
        except BentonbError as exc:  # one damaged bundle must not hide the others
            click.echo(f"skipping {bundle.tag}: {exc}", err=True)
    if output == "json":
        click.echo(json.dumps([{"tag": b.tag, "path": str(b.path), "created_at":
                                m.created_at, "labels": m.labels,
                                "apis": [a.name for a in m.apis],
                                "artifacts": [a.type for a in m.artifacts]}
                               for b, m in bundles], indent=2))
        return
    rows = [("TAG", "APIS", "ARTIFACTS", "LABELS", "CREATED")]
    for b, m in bundles:
        rows.append((b.tag, ",".join(f"{a.name}<{a.input_type}>" for a in m.apis),
                     ",".join(f"{a.name}<{a.type}>" for a in m.artifacts),
                     ",".join(f"{k}={v}" for k, v in m.labels.items()), m.created_at[:19]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


@main.command()
@click.argument("tag")
@click.option("--print-location", is_flag=True, help="Print the bundle's directory.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the requested value.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml")
def get(tag: str, print_location: bool, quiet: bool, output: str) -> None:
    """Show bundle NAME:VERSION's manifest (or its location); for a bare NAME, list its
    versions (NAME:latest is the newest's manifest)."""
    from bentonb.bundle import BundleManifest

    if ":" not in tag and not print_location:
        _print_bundles(store().select(tag), "json" if output == "json" else "table")
        return
    bundle = store().get(tag)
    if print_location:
        click.echo(str(bundle.path) if quiet else f"{bundle.tag}: {bundle.path}")
        return
    data = BundleManifest.read(bundle.path).to_dict()
    if output == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


main.add_command(get, "info")  # the older name of `get`, as some tutorials write it


@main.command()
@click.argument("tag")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(tag: str, yes: bool) -> None:
    """Delete a bundle version (or every version of NAME)."""
    bundles = store()
    targets = bundles.select(tag)
    if not yes:
        click.confirm(f"Delete {', '.join(b.tag for b in targets)}?", abort=True)
    for bundle in bundles.delete(tag):
        click.echo(f"deleted {bundle.tag}")


@main.command()
@click.argument("tag")
@click.argument("pairs", nargs=-1, metavar="KEY=VALUE...")
@click.option("--remove", "remove", multiple=True, metavar="KEY",
              help="Remove the label KEY (repeatable).")
def label(tag: str, pairs: tuple[str, ...], remove: tuple[str, ...]) -> None:
    """Set labels KEY=VALUE and remove labels (--remove KEY) of bundle TAG; both copies
    of its manifest are replaced atomically."""
    from bentonb.bundle.labels import relabel

    if not pairs and not remove:
        raise click.UsageError("give labels to set (stage=prod) or --remove KEY")
    add: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not KEY=VALUE (e.g. stage=prod)",
                                     param_hint="KEY=VALUE")
        add[key] = value
    bundle = store().get(tag)
    manifest = relabel(bundle.path, add, remove)
    shown = ",".join(f"{k}={v}" for k, v in manifest.labels.items()) or "-"
    click.echo(f"{manifest.tag} labels: {shown}")


@main.command()
@click.argument("target")
@click.argument("api_name", metavar="API")
@click.option("--input", "input_value", help="The input: data, or the path of a file.")
@click.option("--input-file", type=click.Path(dir_okay=False),
              help="A file to read the input from (CSV, JSON, image...).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]),
              help="How to read --input when it is data (default: detect).")
def run(target: str, api_name: str, input_value: str | None, input_file: str | None,
        fmt: str | None) -> None:
    """Call API of a bundle (TAG, directory or archive) once and print the answer."""
    from bentonb.bundle import load_bundle, open_bundle

    if (input_value is None) == (input_file is None):
        raise click.UsageError("give exactly one of --input and --input-file")
    if input_file is not None and not Path(input_file).is_file():
        raise click.BadParameter(f"no such file: {input_file}", param_hint="--input-file")
    service = load_bundle(click.get_current_context().with_resource(open_bundle(target)))
    api = service.get_inference_api(api_name)
    value = api.input_adapter.from_cli(input_file or input_value, fmt)
    result = api.run_batch([value])[0]
    click.echo(api.output_adapter.to_cli(result))


@main.command("export")
@click.argument("tag")
@click.argument("file", type=click.Path(dir_okay=True))
def export_command(tag: str, file: str) -> None:
    """Write bundle TAG to FILE (.tar.gz) to move it to another machine."""
    from bentonb.bundle import export_bundle

    path = export_bundle(tag, file, store())
    click.echo(f"exported {tag} to {path}")


_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


def _size(_ctx: Any, param: click.Parameter, value: str) -> int:
    """``10G``, ``500MiB``, ``2048``: a size in bytes (binary units)."""
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "")
    try:
        size = int(float(number) * _UNITS[unit])
    except ValueError:
        size = 0
    if size <= 0:
        raise click.BadParameter(f"'{value}' is not a size such as 20G, 500M or 4096",
                                 param_hint=f"--{param.name.replace('_', '-')}")
    return size


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--max-size", default="10G", show_default=True, callback=_size,
              help="Refuse an archive whose files unpack to more than this (e.g. 20G).")
@click.option("--max-members", type=click.IntRange(min=1), default=100_000,
              show_default=True, help="Refuse an archive with more members than this.")
def import_command(file: str, max_size: int, max_members: int) -> None:
    """Add the bundle in FILE (made by `bentonb export`) to the store.

    The archive is checked before anything is written: no absolute paths, no
    '..', no links or special files, a valid name and version, and the size and
    member limits. A refused archive leaves the store as it was.

    Loading or serving a bundle runs its code (its service module and pickled
    models): import only bundles from people you trust.
    """
    from bentonb.bundle import ArchiveLimits, import_bundle
    from bentonb.bundle.paths import locate

    bundle = import_bundle(file, store(), ArchiveLimits(max_size, max_members))
    where = locate(bundle.path)
    manifest = where.manifest
    labels = ",".join(f"{k}={v}" for k, v in manifest.labels.items()) or "-"
    click.echo(f"imported {bundle.tag} to {bundle.path}\n"
               f"  name:        {manifest.name}\n"
               f"  version:     {manifest.version}\n"
               f"  created_at:  {manifest.created_at}\n"
               f"  labels:      {labels}\n"
               f"  service:     {where.module_file}\n"
               "Loading or serving it runs that code: review it if the archive is not "
               "your own.")



@main.command()
@click.argument("target")
def openapi(target: str) -> None:
    """Print the OpenAPI document of a bundle (TAG or directory)."""
    from bentonb.bundle import load
    from bentonb.server.openapi import openapi_spec

    click.echo(json.dumps(openapi_spec(load(target)), indent=2))
