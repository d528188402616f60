"""A bundle as a Ray Serve application: replicas that each run ``bentonb serve``'s app.

This module owns :class:`BundleReplica` (one Serve replica: loads the bundle once,
answers every request with the server's own Tornado application through
:mod:`bentonb.ray.bridge`), :func:`deployment` (the Serve application for a tag,
a bundle directory or an in-memory service, which is saved to a bundle first),
:func:`start_local` (a local Ray instance on loopback only), :func:`connect`
(to a running cluster) and :func:`run`.
Ray is imported inside the functions that need it, so that importing this module
works without it and says how to install it. It never imports notebook/ or the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bentonb.errors import BentonbError, InvalidArgument
from bentonb.server.app import ServerConfig

INSTALL_HINT = "Ray Serve is not installed: pip install 'bentonb[ray]'"
#: Requests one replica takes at once: enough for its micro-batcher to fill batches
#: (Serve's own default of 5 would starve it); the proxy queues the rest.
MAX_ONGOING_REQUESTS = 64
#: Each replica writes bentonb's access-log line for every request (as ``bentonb
#: serve`` does), so Serve's own access log (a second line per request, in the
#: replica and the proxy) is off unless asked for.
LOGGING = {"enable_access_log": False}


class RayNotInstalled(BentonbError):
    """Ray Serve is missing; the message says how to install it."""


def require_ray() -> Any:
    """The ``ray`` module with Serve importable, else :class:`RayNotInstalled`."""
    try:
        import ray
        import ray.serve  # noqa: F401
    except ImportError:
        raise RayNotInstalled(INSTALL_HINT) from None
    return ray


class BundleReplica:
    """One replica: the bundle at ``path`` loaded once, served by the application
    ``bentonb serve`` builds from it (the micro-batcher runs inside each replica)."""

    def __init__(self, path: str, config: ServerConfig) -> None:
        from bentonb.bundle import load_bundle
        from bentonb.server.app import make_app
        from bentonb.server.logs import configure_logging

        # The access and prediction logs of ``bentonb serve``, on the replica's stderr
        # (Ray keeps it in the session's worker logs and shows it to the driver).
        configure_logging(config.log_format)
        self.app = make_app(load_bundle(path), config)

    async def __call__(self, request: Any) -> Any:
        from bentonb.ray.bridge import answer

        return await answer(self.app, request)

    def check_health(self) -> None:
        """Serve restarts a replica whose server is not ready (models not loaded)."""
        if not self.app.state.ready:
            raise RuntimeError("bentonb replica is not ready")

    def __del__(self) -> None:
        # Serve stops a replica by dropping it: close its batchers and worker threads.
        app = getattr(self, "app", None)
        if app is not None:
            app.state.close()


def bundle_path(tag_or_service: Any) -> Path:
    """The bundle directory replicas load: a tag's or a directory's, or the one an
    in-memory service is saved to now (a service is never pickled to the replicas)."""
    from bentonb.bundle import resolve

    if isinstance(tag_or_service, (str, Path)):
        return resolve(tag_or_service).resolve()
    path = getattr(tag_or_service, "bundle_path", None)
    if path is None:
        if not callable(getattr(tag_or_service, "save", None)):
            raise InvalidArgument(f"{tag_or_service!r} is not a tag, a bundle directory or "
                                  "a service that can be saved to a bundle")
        tag_or_service.save()
        path = tag_or_service.bundle_path
    return Path(path).resolve()


def deployment(tag_or_service: Any, *, num_replicas: int | str | None = None,
               autoscaling_config: dict | None = None,
               ray_actor_options: dict | None = None, config: ServerConfig | None = None,
               max_ongoing_requests: int = MAX_ONGOING_REQUESTS,
               logging_config: dict | None = None) -> Any:
    """The Ray Serve application serving every API of a bundle (a tag, a bundle
    directory, or a service object, saved first when unsaved) at the routes, with the
    adapters, status codes, error bodies, API key and OpenAPI document of
    ``bentonb serve`` with ``config``. ``num_replicas``: a count, or ``"auto"``;
    default 1, or Serve's autoscaling when ``autoscaling_config`` is given.
    ``logging_config``: Serve's, for the replicas (default: Serve's access log off, as
    bentonb's own is written). The bundle's path must be readable by every replica's
    machine."""
    ray = require_ray()
    path = bundle_path(tag_or_service)
    from bentonb.bundle.manifest import BundleManifest

    name = BundleManifest.read(path).name
    options: dict[str, Any] = {"name": name, "max_ongoing_requests": max_ongoing_requests,
                               "logging_config": logging_config or LOGGING}
    if num_replicas is None and autoscaling_config is None:
        num_replicas = 1
    if num_replicas is not None:
        if num_replicas != "auto" and not (isinstance(num_replicas, int) and num_replicas >= 1):
            raise InvalidArgument(f"num_replicas must be a whole number at least 1 or 'auto'; "
                                  f"got {num_replicas!r}")
        options["num_replicas"] = num_replicas
    if autoscaling_config is not None:
        options["autoscaling_config"] = autoscaling_config
    if ray_actor_options is not None:
        options["ray_actor_options"] = ray_actor_options
    replica = ray.serve.deployment(BundleReplica).options(**options)
    return replica.bind(str(path), config or ServerConfig())


def _stay_on_loopback() -> None:
    """Keep Ray on 127.0.0.1 in this process and every process it starts."""
    # Off, Ray keeps a node on loopback (without it, Linux turns 127.0.0.1 into the
    # machine's routable address). Read when ray is imported and by every process it
    # starts, so set before both.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    require_ray()
    from ray._private import ray_constants

    # This process imported ray before: its copy of the flag is already read.
    ray_constants.ENABLE_RAY_CLUSTER = False


def start_local(num_cpus: int | None = None, port: int = 8000) -> str:
    """Start Ray on this machine bound to loopback only (no dashboard, no usage
    reports) and Serve's HTTP proxy on ``127.0.0.1:port``; the proxy's URL."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    _stay_on_loopback()
    ray = require_ray()
    ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
             configure_logging=False)
    ray.serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config=LOGGING)
    return f"http://127.0.0.1:{port}"


def connect(address: str) -> None:
    """Connect this process to the running Ray cluster at ``address`` (``host:port``
    of its GCS, ``ray://host:10001`` or ``auto``), without starting or ever stopping
    it. A loopback address (a cluster on this machine bound to 127.0.0.1) is kept
    as written: Ray would otherwise swap 127.0.0.1 for the routable address, where a
    loopback cluster does not listen."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = require_ray()
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if host in ("127.0.0.1", "localhost", "::1"):
        _stay_on_loopback()
        ray.init(address=address, _node_ip_address="127.0.0.1", configure_logging=False)
    else:
        ray.init(address=address, configure_logging=False)


def run(tag_or_service: Any, *, route_prefix: str = "/", name: str | None = None,
        **options: Any) -> Any:
    """Deploy :func:`deployment` ``(tag_or_service, **options)`` on the Ray instance
    this process is connected to, at ``route_prefix``, as the Serve application
    ``name`` (default: the bundle's name); its handle once every replica is up.
    Deploying again under the same name updates it in place (a new replica count, a
    new bundle version) while the old replicas keep answering."""
    ray = require_ray()
    from bentonb.bundle.manifest import BundleManifest

    path = bundle_path(tag_or_service)
    app = deployment(path, **options)
    return ray.serve.run(app, name=name or BundleManifest.read(path).name,
                         route_prefix=route_prefix)
