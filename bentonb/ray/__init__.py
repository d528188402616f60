"""bentonb on Ray Serve: a bundle served by replicas on a Ray cluster, with the HTTP
behaviour of ``bentonb serve``.

Importing this package does not import ray; the functions do, and raise
:class:`RayNotInstalled` (``pip install 'bentonb[ray]'``) when it is missing.
"""

from bentonb.ray.deploy import (
    INSTALL_HINT,
    BundleReplica,
    RayNotInstalled,
    bundle_path,
    connect,
    deployment,
    require_ray,
    run,
    start_local,
)

__all__ = ["INSTALL_HINT", "BundleReplica", "RayNotInstalled", "bundle_path", "connect",
           "deployment", "require_ray", "run", "start_local"]
