"""The Kubernetes objects that run a bundle's image, as plain dicts.

This module owns :func:`render`: a Deployment (probes on ``/readyz`` and ``/livez``,
a drain before SIGTERM, a locked-down pod), a ClusterIP Service, a
PodDisruptionBudget, and when asked a HorizontalPodAutoscaler and a Secret holding a
fresh API key, for the image ``bentonb containerize`` builds. Options are checked by
:mod:`bentonb.k8s.options` first. It writes no file and never imports yaml, tornado,
docker, the notebook or the CLI; it renders without a cluster.
"""

from __future__ import annotations

import math
import re
import secrets
from typing import Any

from bentonb.bundle.manifest import BundleManifest
from bentonb.bundle.templates import IMAGE_USER_ID
from bentonb.k8s.options import K8sOptions, check_options

CONTAINER_PORT = 5000
SERVICE_PORT = 80
#: Seconds between SIGKILL's deadline and the end of the server's own drain.
GRACE_MARGIN = 5
API_KEY_FIELD = "api-key"
FILES = ("deployment.yaml", "service.yaml", "pdb.yaml", "hpa.yaml", "secret.yaml")


def service_hosts(name: str, namespace: str, cluster_domain: str = "cluster.local"
                  ) -> list[str]:
    """The names a Service is reached by inside the cluster, shortest first."""
    return [name, f"{name}.{namespace}", f"{name}.{namespace}.svc",
            f"{name}.{namespace}.svc.{cluster_domain}"]


def _label_value(text: str) -> str:
    value = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def render(manifest: BundleManifest, options: K8sOptions) -> dict[str, dict[str, Any]]:
    """The manifests for ``options.image`` serving this bundle, by file name (in
    :data:`FILES` order); ``hpa.yaml`` and ``secret.yaml`` only when asked."""
    o = options
    name, secret, extra_hosts = check_options(manifest, o)
    selector = {"app.kubernetes.io/name": name}
    labels = {**selector, "app.kubernetes.io/version": _label_value(manifest.version),
              "app.kubernetes.io/managed-by": "bentonb"}

    def meta() -> dict[str, Any]:
        return {"name": name, "namespace": o.namespace, "labels": dict(labels)}

    hosts = ",".join([*service_hosts(name, o.namespace, o.cluster_domain), *extra_hosts])
    key_ref = {"name": secret, "key": API_KEY_FIELD, "optional": not o.api_key_required}

    def probe(path: str, timeout: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "http"}, "timeoutSeconds": timeout}

    container = {
        "name": "server", "image": o.image, "imagePullPolicy": "IfNotPresent",
        "args": ["--graceful-timeout", f"{o.graceful_timeout:g}"],
        "ports": [{"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "env": [{"name": "PORT", "value": str(CONTAINER_PORT)},
                # The root file system is read-only: caches under $HOME go to /tmp.
                {"name": "HOME", "value": "/tmp"},
                {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                {"name": "BENTONB_ALLOW_HOST", "value": hosts},
                {"name": "BENTONB_API_KEY", "valueFrom": {"secretKeyRef": key_ref}}],
        "resources": {"requests": {"cpu": o.cpu, "memory": o.memory},
                      "limits": {"cpu": o.cpu_limit, "memory": o.memory_limit}},
        # Until the models load, liveness and readiness wait; a load that hangs longer
        # than the startup timeout restarts the container.
        "startupProbe": {**probe("/readyz", 3), "periodSeconds": 5,
                         "failureThreshold": math.ceil(o.startup_timeout / 5)},
        "readinessProbe": {**probe("/readyz", 3), "periodSeconds": 5, "failureThreshold": 2},
        "livenessProbe": {**probe("/livez", 5), "periodSeconds": 10, "failureThreshold": 3},
        # The server stops accepting at SIGTERM; first let the Service's endpoints drop
        # this pod, so no new request is sent to a closed port.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(o.drain_delay)]}}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": IMAGE_USER_ID,
                            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "automountServiceAccountToken": False,
        # Service links would set NAME_PORT=tcp://... variables, and BENTONB_PORT is a flag.
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": o.drain_delay + math.ceil(o.graceful_timeout)
        + GRACE_MARGIN,
        "securityContext": {"runAsNonRoot": True, "runAsUser": IMAGE_USER_ID,
                            "runAsGroup": IMAGE_USER_ID, "fsGroup": IMAGE_USER_ID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {**meta(), "annotations": {"bentonb/bundle": manifest.tag}},
        "spec": {"replicas": o.replicas, "selector": {"matchLabels": selector},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                 "template": {"metadata": {"labels": dict(labels)}, "spec": pod}},
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": meta(),
               "spec": {"type": "ClusterIP", "selector": selector,
                        "ports": [{"name": "http", "port": SERVICE_PORT,
                                   "targetPort": "http", "protocol": "TCP"}]}}
    out: dict[str, dict[str, Any]] = {"deployment.yaml": deployment, "service.yaml": service}
    least = o.replicas if o.hpa_max is None or o.hpa_min is None else o.hpa_min
    # One replica must not block a node drain forever; more keep one serving.
    budget = {"minAvailable": 1} if least > 1 else {"maxUnavailable": 1}
    out["pdb.yaml"] = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                       "metadata": meta(),
                       "spec": {**budget, "selector": {"matchLabels": selector}}}
    if o.hpa_max is not None:
        # The autoscaler owns the replica count; a count here would undo it on each apply.
        del deployment["spec"]["replicas"]
        metric = {"type": "Utilization", "averageUtilization": o.hpa_cpu or 70}
        out["hpa.yaml"] = {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": meta(),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": name},
                     "minReplicas": least, "maxReplicas": o.hpa_max,
                     "metrics": [{"type": "Resource",
                                  "resource": {"name": "cpu", "target": metric}}]}}
    if o.secret_manifest:
        out["secret.yaml"] = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                              "metadata": {**meta(), "name": secret},
                              "stringData": {API_KEY_FIELD: secrets.token_urlsafe(32)}}
    return out
