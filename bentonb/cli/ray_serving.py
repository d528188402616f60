"""``bentonb serve TARGET --ray``: the bundle deployed on Ray Serve instead of Tornado
processes of its own."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import click


def _free_port() -> int:
    """A port free on loopback now, for ``--port 0`` (Serve's proxy needs a number)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_stop() -> None:
    """Block until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve_on_ray(path: Path, config: Any, address: str | None, replicas: int) -> int:
    """Deploy the bundle at ``path`` with ``config`` (the flags of ``bentonb serve``)
    and print its URL. Without ``address``: a local Ray on loopback, served until
    SIGTERM / Ctrl-C, then shut down. With one: deployed to that cluster, where it
    keeps running after this command exits."""
    from bentonb.bundle.manifest import BundleManifest
    from bentonb.ray import RayNotInstalled, connect, require_ray, run, start_local
    from bentonb.server.app import exposure_warning
    from bentonb.server.runner import local_url

    try:
        ray = require_ray()
    except RayNotInstalled as exc:
        raise click.ClickException(str(exc)) from None
    if config.port == 0:
        config.port = _free_port()
    manifest = BundleManifest.read(path)
    if address is None:
        url = start_local(num_cpus=os.cpu_count(), port=config.port)
    else:
        connect(address)
        ray.serve.start(http_options={"host": config.host, "port": config.port})
        url = local_url(config.host, config.port)
    try:
        warning = exposure_warning(config)
        if warning:
            click.echo(warning, err=True)
        run(path, config=config, num_replicas=replicas)
        click.echo(f"bentonb serving {manifest.name}:{manifest.version} on Ray Serve at {url} "
                   f"({replicas} replica{'s' if replicas > 1 else ''}); docs: {url}/docs",
                   err=True)
        if config.api_key:
            click.echo(f"API key: {config.api_key}", err=True)
        if address is not None:
            click.echo(f"it keeps running on the cluster; stop it with: "
                       f"serve shutdown --address {address}", err=True)
            return 0
        _wait_for_stop()
        ray.serve.shutdown()
        return 0
    finally:
        ray.shutdown()
