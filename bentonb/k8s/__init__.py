"""Kubernetes manifests for a bundle's container image: checked options, plain dicts,
YAML out.

- :mod:`bentonb.k8s.options`: :class:`K8sOptions` and every check on them;
- :mod:`bentonb.k8s.manifests`: :func:`render`, the objects as dicts;
- :mod:`bentonb.k8s.files`: :func:`to_yaml` and :func:`write_manifests`.

Nothing here needs a cluster, and nothing here imports tornado, docker, the notebook
or the CLI (the CLI imports this package: ``bentonb k8s``, ``containerize --k8s``).
"""

from bentonb.k8s.files import to_yaml, write_manifests
from bentonb.k8s.manifests import (
    API_KEY_FIELD,
    CONTAINER_PORT,
    FILES,
    GRACE_MARGIN,
    SERVICE_PORT,
    render,
    service_hosts,
)
from bentonb.k8s.options import K8sOptions, check_label, check_options, quantity, resource_name

__all__ = ["API_KEY_FIELD", "CONTAINER_PORT", "FILES", "GRACE_MARGIN", "SERVICE_PORT",
           "K8sOptions", "check_label", "check_options", "quantity", "render",
           "resource_name", "service_hosts", "to_yaml", "write_manifests"]
