"""``bentonb serve``: a bundle over HTTP until SIGTERM, with the server's flags."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from bentonb.cli.group import main
from bentonb.errors import BentonbError


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
@click.option("--reload", is_flag=True,
              help="For MODULE:SVC targets, during development: serve the new code when a "
                   ".py file under the current directory changes.")
@click.option("--ray", "on_ray", is_flag=True,
              help="Serve on Ray Serve: replicas each run this server's app (needs "
                   "bentonb[ray]); a local Ray on loopback unless --address is given.")
@click.option("--address", metavar="ADDR",
              help="With --ray: the Ray cluster to deploy to (ray://host:10001 or auto); "
                   "the deployment stays there after this command exits.")
@click.option("--replicas", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="With --ray: Serve replicas, each loading the bundle once.")
@click.pass_context
def serve(ctx: click.Context, target: str, host: str, port: int, workers: int,
          enable_microbatch: bool, mb_max_batch_size: int | None,
          mb_max_latency: float | None, max_concurrency: int | None, max_queue: int | None,
          timeout: float, graceful_timeout: float, max_request_size: float,
          max_image_pixels: int | None, allow_hosts: tuple[str, ...],
          cors_origins: tuple[str, ...], log_format: str, ngrok: bool,
          ngrok_token: str | None, api_key: str | None, api_key_file: str | None,
          reload: bool, on_ray: bool, address: str | None, replicas: int) -> None:
    """Serve a bundle (TAG, directory or archive), or MODULE:SVC (a service defined in
    MODULE.py in the current directory), over HTTP until SIGTERM / Ctrl-C."""
    from bentonb.adapters.curl import curl_command
    from bentonb.bundle import load_bundle, open_bundle
    from bentonb.sdk.target import load_target, module_target
    from bentonb.server.app import MB, ServerConfig, choose_api_key, exposure_warning
    from bentonb.server.guards import host_pattern
    from bentonb.server.logs import SERVER, configure_logging
    from bentonb.server.runner import local_url, run_server

    configure_logging(log_format)

    def say(message: str, warning: bool = False, **fields: Any) -> None:
        """A start-up line: as it is on stderr, or a log record of its own (with
        ``fields``) when the logs are JSON, so that it parses as the others do."""
        if log_format == "json":
            SERVER.log(logging.WARNING if warning else logging.INFO, "%s", message,
                       extra=fields)
        else:
            click.echo(message, err=True)

    if (address or ctx.get_parameter_source("replicas") == click.core.ParameterSource.COMMANDLINE) \
            and not on_ray:
        raise click.UsageError("--address and --replicas deploy to Ray Serve: add --ray")
    if on_ray and module_target(target) is not None:
        raise click.UsageError(f"--ray serves a bundle; {target} is a module: build it "
                               "first (bentonb build) and serve its tag")
    if on_ray and (reload or workers > 1 or ngrok):
        raise click.UsageError("--ray scales with --replicas; leave out --reload, --workers "
                               "and --ngrok")
    # An archive is extracted for as long as the command runs, removed when it ends.
    in_module = module_target(target)
    reloader = None
    if reload and in_module is None:
        raise click.UsageError(f"--reload serves a service defined in a .py file "
                               f"(MODULE:SVC, e.g. service:svc); {target} is not one")
    if reload and workers > 1:
        raise click.UsageError("--reload serves one worker; leave out --workers")
    if reload:
        from bentonb.cli.reload import ModuleReloader

        reloader = ModuleReloader(*in_module)
        load = reloader.load
    elif in_module is not None:
        def load() -> Any:
            return load_target(*in_module)
    else:
        path = ctx.with_resource(open_bundle(target))

        def load() -> Any:
            return load_bundle(path)
    choice = _api_key_choice(ctx, api_key, api_key_file)
    key = choose_api_key(choice, public=ngrok)
    config = ServerConfig(host=host, port=port, enable_microbatch=enable_microbatch,
                          mb_max_batch_size=mb_max_batch_size, mb_max_latency=mb_max_latency,
                          max_request_size=int(max_request_size * MB), log_format=log_format,
                          api_key=key, max_concurrency=max_concurrency, max_queue=max_queue,
                          timeout=timeout, graceful_timeout=graceful_timeout,
                          allow_hosts=allow_hosts, cors_origins=cors_origins,
                          max_image_pixels=max_image_pixels)
    if on_ray:
        from bentonb.cli.ray_serving import serve_on_ray

        sys.exit(serve_on_ray(path, config, address, replicas))
    tunnels = []
    if ngrok:  # opened by this (parent) process: one public URL for every worker
        from urllib.parse import urlsplit

        from bentonb.tunnel import open_tunnel

        tunnels.append(open_tunnel(port, ngrok_token))
        config.allow_hosts += (host_pattern(urlsplit(tunnels[0].public_url).hostname),)

    def listening() -> None:
        warning = exposure_warning(config)  # names the bound port, also for --port 0
        if warning:
            say(warning, warning=True)
        url = local_url(host, config.port)
        say(f"bentonb listening at {url}; loading {target}", url=url)

    def ready(service: Any) -> None:
        url = local_url(host, config.port)  # the bound port, also for --port 0
        tag = str(service.tag or service.name)
        say(f"bentonb serving {tag} at {url} "
            f"({workers} worker{'s' if workers > 1 else ''}); docs: {url}/docs",
            url=url, service=tag, workers=workers)
        if tunnels:
            url = tunnels[0].public_url
            say(f"public URL: {url}", public_url=url)
        # A key of the user's own is never echoed: it came from the environment or a file.
        own_key = bool(key) and choice != "auto"
        if key and not own_key:
            say(f"API key: {key}")
        if service.inference_apis:
            command = curl_command(service.inference_apis[0], url,
                                   api_key=None if own_key else key,
                                   api_key_env="BENTONB_API_KEY" if own_key else None)
            say(f"try: {command}")

    try:
        code = run_server(load, config, workers, ready, listening,
                          on_serving=reloader.start if reloader is not None else None)
    finally:
        for tunnel in tunnels:
            tunnel.close()
    sys.exit(code)


@main.command("yatai-service-start")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=3000, show_default=True,
              help="Port (0: one the OS picks, named in the startup line).")
@click.option("--api-key", envvar="BENTONB_API_KEY",
              help="Key that deleting needs (Authorization: Bearer KEY); without one, only "
                   "this machine may delete. Also $BENTONB_API_KEY.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="HOST",
              callback=_checked(_host_check), help="Also answer requests whose Host is HOST.")
def dashboard(host: str, port: int, api_key: str | None, allow_hosts: tuple[str, ...]) -> None:
    """Browse the bundle store in a web page (also `bentonb dashboard`): list, search,
    inspect, download and delete bundles, with a JSON API under /api/bundles."""
    from bentonb.dashboard.app import run_dashboard
    from bentonb.store import LocalStore

    if api_key is not None and len(api_key) < 8:
        raise click.BadParameter("an API key needs at least 8 characters", param_hint="--api-key")
    home = LocalStore().home

    def ready(url: str) -> None:
        click.echo(f"bentonb dashboard at {url} (store {home}); Ctrl-C stops it", err=True)
        if not api_key:
            click.echo("deleting is allowed from this machine only (no --api-key)", err=True)

    run_dashboard(home, host, port, api_key or None, allow_hosts, ready)


main.add_command(dashboard, "dashboard")
