"""The ``bentonb`` command: manage, run and ship saved bundles."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bentonb.errors import BentonbError


class _Group(click.Group):
    """Turns bentonb's own errors into one-line messages and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BentonbError as exc:
            raise click.ClickException(str(exc)) from None


def _store():
    from bentonb.store import LocalStore

    return LocalStore()


def parse_labels(value: str | None) -> dict[str, str]:
    from bentonb.tags import parse_labels as parse

    try:
        return parse(value)
    except BentonbError as exc:
        raise click.BadParameter(str(exc), param_hint="--labels") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bentonb")
def main() -> None:
    """bentonb: versioned bundles and fast prediction services for notebook models."""


@main.command("list")
@click.option("--labels", help="Only bundles with these labels: k=v,k2=v2.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
@click.argument("name", required=False)
def list_command(labels: str | None, output: str, name: str | None) -> None:
    """List saved bundles (of NAME), oldest first."""
    from bentonb.bundle import BundleManifest

    bundles = []
    for bundle in _store().list(name, parse_labels(labels)):
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
    """Show a bundle's manifest (or its location)."""
    from bentonb.bundle import BundleManifest

    bundle = _store().get(tag)
    if print_location:
        click.echo(str(bundle.path) if quiet else f"{bundle.tag}: {bundle.path}")
        return
    data = BundleManifest.read(bundle.path).to_dict()
    if output == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


@main.command()
@click.argument("tag")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(tag: str, yes: bool) -> None:
    """Delete a bundle version (or every version of NAME)."""
    store = _store()
    targets = store.select(tag)
    if not yes:
        click.confirm(f"Delete {', '.join(b.tag for b in targets)}?", abort=True)
    for bundle in store.delete(tag):
        click.echo(f"deleted {bundle.tag}")


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

    path = export_bundle(tag, file, _store())
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
    from bentonb.bundle import ArchiveLimits, BundleManifest, import_bundle

    bundle = import_bundle(file, _store(), ArchiveLimits(max_size, max_members))
    manifest = BundleManifest.read(bundle.path)
    labels = ",".join(f"{k}={v}" for k, v in manifest.labels.items()) or "-"
    package = bundle.path / manifest.name
    module = package if (package / f"{manifest.module}.py").is_file() else bundle.path
    click.echo(f"imported {bundle.tag} to {bundle.path}\n"
               f"  name:        {manifest.name}\n"
               f"  version:     {manifest.version}\n"
               f"  created_at:  {manifest.created_at}\n"
               f"  labels:      {labels}\n"
               f"  service:     {module / f'{manifest.module}.py'}\n"
               "Loading or serving it runs that code: review it if the archive is not "
               "your own.")


def _checked(check):
    """A click callback running a server check over every (comma-separated) value."""
    def callback(ctx: click.Context, param: click.Parameter, values: Any) -> Any:
        from bentonb.server.guards import patterns

        try:
            return patterns(values, check)
        except BentonbError as exc:
            raise click.BadParameter(str(exc)) from None
    return callback


def _host_check(value: str) -> str:
    from bentonb.server.guards import host_pattern

    return host_pattern(value)


def _origin_check(value: str) -> str:
    from bentonb.server.guards import origin_pattern

    return origin_pattern(value)


def _api_key_choice(ctx: click.Context, api_key: str | None, key_file: str | None) -> str:
    """``--api-key`` (or $BENTONB_API_KEY), or the first line of ``--api-key-file``."""
    if key_file is None:
        return api_key or "auto"
    if ctx.get_parameter_source("api_key") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("give --api-key or --api-key-file, not both")
    try:
        key = Path(key_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {key_file}: {exc}",
                                 param_hint="--api-key-file") from None
    if not key or "\n" in key:
        raise click.BadParameter(f"{key_file} must hold the key alone on one line",
                                 param_hint="--api-key-file")
    return key


@main.command()
@click.argument("target")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), envvar="BENTONB_PORT", default=5000,
              show_default=True, help="Port (also $BENTONB_PORT).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes sharing the port, each with its own batcher; one "
                   "that dies is replaced.")
@click.option("--enable-microbatch/--disable-microbatch", default=True, show_default=True,
              help="Group concurrent requests of batch APIs into micro-batches.")
@click.option("--mb-max-batch-size", type=click.IntRange(min=1),
              help="Largest micro-batch in items (default: each API's own).")
@click.option("--mb-max-latency", type=click.FloatRange(min=0, min_open=True),
              help="Latency bound in ms; slower requests get 503 (default: each API's own).")
@click.option("--max-concurrency", type=click.IntRange(1, 1024),
              help="Calls of one non-batch API running at once (default: 1, its one "
                   "worker thread).")
@click.option("--max-queue", type=click.IntRange(0, 1_000_000),
              help="Requests of one non-batch API waiting for a worker; more get 503 "
                   "(default: 16 per --max-concurrency).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60,
              show_default=True, help="Seconds to answer a request (else 504), and to "
                                      "receive its body.")
@click.option("--graceful-timeout", type=click.FloatRange(min=0), default=10,
              show_default=True, help="Seconds requests in flight may take to finish "
                                      "after SIGTERM.")
@click.option("--max-request-size", type=click.FloatRange(min=0, min_open=True), default=20,
              show_default=True, help="Largest request body in MB (larger: 413).")
@click.option("--max-image-pixels", type=click.IntRange(min=1),
              help="Largest image (width x height) the image inputs decode (default: "
                   "the adapters' own).")
@click.option("--allow-host", "allow_hosts", multiple=True, envvar="BENTONB_ALLOW_HOST",
              metavar="HOST", callback=_checked(_host_check),
              help="Also answer requests whose Host is HOST (name, *.suffix, IP, or * for "
                   "any); repeatable, comma-separated in $BENTONB_ALLOW_HOST.")
@click.option("--cors-origin", "cors_origins", multiple=True, envvar="BENTONB_CORS_ORIGIN",
              metavar="ORIGIN", callback=_checked(_origin_check),
              help="Let browser pages of ORIGIN (https://app.example.com, or *) call the "
                   "server; repeatable.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--ngrok", "--run-with-ngrok", "ngrok", is_flag=True,
              help="Also serve on a public ngrok URL (token: $NGROK_AUTHTOKEN).")
@click.option("--ngrok-token", help="ngrok auth token.")
@click.option("--api-key", envvar="BENTONB_API_KEY",
              help="Key required on prediction routes: auto (the default: one is made when "
                   "public), a key of your own, or none. Also $BENTONB_API_KEY, which "
                   "keeps it out of `ps`.")
@click.option("--api-key-file", type=click.Path(exists=True, dir_okay=False),
              help="Read the API key from this file.")
@click.pass_context
def serve(ctx: click.Context, target: str, host: str, port: int, workers: int,
          enable_microbatch: bool, mb_max_batch_size: int | None,
          mb_max_latency: float | None, max_concurrency: int | None, max_queue: int | None,
          timeout: float, graceful_timeout: float, max_request_size: float,
          max_image_pixels: int | None, allow_hosts: tuple[str, ...],
          cors_origins: tuple[str, ...], log_format: str, ngrok: bool,
          ngrok_token: str | None, api_key: str | None, api_key_file: str | None) -> None:
    """Serve a bundle (TAG, directory or archive) over HTTP until SIGTERM / Ctrl-C."""
    from bentonb.bundle import load_bundle, open_bundle
    from bentonb.server.app import MB, ServerConfig, choose_api_key, exposure_warning
    from bentonb.server.guards import host_pattern
    from bentonb.server.logs import configure_logging
    from bentonb.server.runner import local_url, run_server

    configure_logging(log_format)
    # An archive is extracted for as long as the command runs, removed when it ends.
    path = ctx.with_resource(open_bundle(target))
    choice = _api_key_choice(ctx, api_key, api_key_file)
    key = choose_api_key(choice, public=ngrok)
    config = ServerConfig(host=host, port=port, enable_microbatch=enable_microbatch,
                          mb_max_batch_size=mb_max_batch_size, mb_max_latency=mb_max_latency,
                          max_request_size=int(max_request_size * MB), log_format=log_format,
                          api_key=key, max_concurrency=max_concurrency, max_queue=max_queue,
                          timeout=timeout, graceful_timeout=graceful_timeout,
                          allow_hosts=allow_hosts, cors_origins=cors_origins,
                          max_image_pixels=max_image_pixels)
    tunnels = []
    if ngrok:  # opened by this (parent) process: one public URL for every worker
        from urllib.parse import urlsplit

        from bentonb.tunnel import open_tunnel

        tunnels.append(open_tunnel(port, ngrok_token))
        config.allow_hosts += (host_pattern(urlsplit(tunnels[0].public_url).hostname),)

    def listening() -> None:
        warning = exposure_warning(config)  # names the bound port, also for --port 0
        if warning:
            click.echo(warning, err=True)
        click.echo(f"bentonb listening at {local_url(host, config.port)}; loading {target}",
                   err=True)

    def ready(service: Any) -> None:
        url = local_url(host, config.port)  # the bound port, also for --port 0
        click.echo(f"bentonb serving {service.tag or service.name} at {url} "
                   f"({workers} worker{'s' if workers > 1 else ''}); docs: {url}/docs",
                   err=True)
        if tunnels:
            url = tunnels[0].public_url
            click.echo(f"public URL: {url}", err=True)
        # A key of the user's own is never echoed: it came from the environment or a file.
        shown = key if choice == "auto" else "$BENTONB_API_KEY"
        auth = f" -H 'Authorization: Bearer {shown}'" if key else ""
        if key and choice == "auto":
            click.echo(f"API key: {key}", err=True)
        api = service.inference_apis[0] if service.inference_apis else None
        if api is not None:
            example = api.input_adapter.example() or "@file"
            click.echo(f"try: curl -X POST -H 'Content-Type: {api.input_adapter.media_types[0]}'"
                       f"{auth} --data '{example}' {url}/{api.route}", err=True)

    try:
        code = run_server(lambda: load_bundle(path), config, workers, ready, listening)
    finally:
        for tunnel in tunnels:
            tunnel.close()
    sys.exit(code)


@main.command()
@click.argument("target")
@click.option("-t", "--tag", "image_tag", help="Image name:tag (default: name:version, "
                                                "lowercased).")
@click.option("--base-image", help="Base image (default: python:X.Y-slim of the bundle).")
@click.option("--build-arg", "build_args", multiple=True, metavar="K=V",
              help="Build argument, repeatable.")
@click.option("--wheels", is_flag=True, help="Download every requirement as a wheel into the "
                                             "context: the build needs no network.")
@click.option("--output-dir", type=click.Path(file_okay=False),
              help="Where to write the build context (default: a temporary directory).")
@click.option("--push", is_flag=True, help="Push the image after building it.")
def containerize(target: str, image_tag: str | None, base_image: str | None,
                 build_args: tuple[str, ...], wheels: bool, output_dir: str | None,
                 push: bool) -> None:
    """Build a container image of a bundle through the Docker Engine API ($DOCKER_HOST:
    Docker or Podman). Without an engine, write the build context and exit 3."""
    from bentonb.bundle import open_bundle
    from bentonb.container import ContainerEngineUnavailable
    from bentonb.container import containerize as build

    args = {}
    for pair in build_args:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not K=V", param_hint="--build-arg")
        args[key] = value
    path = click.get_current_context().with_resource(open_bundle(target))
    try:
        image = build(path, image_tag, base_image, args, wheels,
                      Path(output_dir) if output_dir else None, push,
                      log=lambda line: click.echo(line, err=True))
    except ContainerEngineUnavailable as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(3)
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


@main.command()
@click.argument("target")
def openapi(target: str) -> None:
    """Print the OpenAPI document of a bundle (TAG or directory)."""
    from bentonb.bundle import load
    from bentonb.server.openapi import openapi_spec

    click.echo(json.dumps(openapi_spec(load(target)), indent=2))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
