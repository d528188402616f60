"""Kubernetes manifests for a bundle's container image: plain dicts, dumped as YAML.

This module owns what a cluster needs to run the image that ``bentonb containerize``
builds: a Deployment (probes on ``/readyz`` and ``/livez``, a drain before SIGTERM,
a locked-down pod), a ClusterIP Service, a PodDisruptionBudget, and when asked a
HorizontalPodAutoscaler and a Secret holding a fresh API key. Every option is
checked here, once, with errors naming the flag. It never imports tornado, docker,
the notebook or the CLI, and renders without a cluster.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from bentonb.bundle.manifest import BundleManifest
from bentonb.bundle.templates import IMAGE_USER_ID
from bentonb.errors import InvalidArgument

CONTAINER_PORT = 5000
SERVICE_PORT = 80
#: Seconds between SIGKILL's deadline and the end of the server's own drain.
GRACE_MARGIN = 5
API_KEY_FIELD = "api-key"
FILES = ("deployment.yaml", "service.yaml", "pdb.yaml", "hpa.yaml", "secret.yaml")

_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)([A-Za-z]*)\Z")
_MEMORY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
                 "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_CPU_UNITS = {"": Decimal(1), "m": Decimal("0.001")}


@dataclass
class K8sOptions:
    """What ``bentonb k8s`` renders; the defaults are the command's defaults."""

    image: str
    name: str | None = None            # default: derived from the bundle's name
    namespace: str = "default"
    replicas: int = 1
    cpu: str = "500m"
    memory: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"
    graceful_timeout: float = 10.0     # the server's --graceful-timeout
    drain_delay: int = 5               # preStop sleep: endpoints stop sending first
    startup_timeout: int = 300         # seconds the models may take to load
    api_key_secret: str | None = None  # default: NAME-api-key
    api_key_required: bool = True
    secret_manifest: bool = False
    allow_hosts: tuple[str, ...] = ()
    hpa_min: int | None = None
    hpa_max: int | None = None
    hpa_cpu: int | None = None
    cluster_domain: str = "cluster.local"


def resource_name(bundle_name: str) -> str:
    """The Kubernetes name of a bundle: lowercase, ``-`` for ``_`` and ``.``, at most
    63 characters; an error when that is still not a DNS-1035 label (a Service's
    name must be one: it starts with a letter)."""
    name = re.sub(r"-{2,}", "-", re.sub(r"[_.]", "-", bundle_name.lower())).strip("-")
    name = name[:63].rstrip("-")
    return check_label(name, "--name", dns_1035=True)


def check_label(value: str, flag: str, dns_1035: bool = False) -> str:
    """``value`` when it is a DNS label (DNS-1035: starting with a letter)."""
    pattern = _DNS_1035 if dns_1035 else _DNS_1123
    if not (isinstance(value, str) and len(value) <= 63 and pattern.match(value)):
        first = "a letter" if dns_1035 else "a letter or digit"
        raise InvalidArgument(f"{flag} {value!r} is not a DNS label: use at most 63 "
                              f"lowercase letters, digits and '-', starting with {first} "
                              "and ending with a letter or digit")
    return value


def quantity(value: str, flag: str, memory: bool) -> Decimal:
    """The amount a CPU (cores) or memory (bytes) quantity stands for, checked."""
    units = _MEMORY_UNITS if memory else _CPU_UNITS
    match = _QUANTITY.match(str(value))
    if memory and match and match.group(2) == "m":
        raise InvalidArgument(f"{flag} {value!r} means thousandths of a byte: "
                              f"did you mean {match.group(1)}Mi?")
    if not match or match.group(2) not in units:
        hint = ("a byte count with an optional suffix Ki, Mi, Gi, Ti (powers of 1024) or "
                "k, M, G, T (powers of 1000), e.g. 512Mi" if memory else
                "cores (0.5, 2) or millicores (500m)")
        raise InvalidArgument(f"{flag} {value!r} is not a quantity: use {hint}")
    try:
        amount = Decimal(match.group(1)) * units[match.group(2)]
    except InvalidOperation:
        raise InvalidArgument(f"{flag} {value!r} is not a number") from None
    if amount < (2**20 if memory else Decimal("0.001")):
        raise InvalidArgument(f"{flag} {value!r} is too small: at least "
                              f"{'1Mi' if memory else '1m'}")
    return amount


def service_hosts(name: str, namespace: str, cluster_domain: str = "cluster.local"
                  ) -> list[str]:
    """The names a Service is reached by inside the cluster, shortest first."""
    return [name, f"{name}.{namespace}", f"{name}.{namespace}.svc",
            f"{name}.{namespace}.svc.{cluster_domain}"]


def _label_value(text: str) -> str:
    value = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def _checked(manifest: BundleManifest, o: K8sOptions) -> tuple[str, str, list[str]]:
    """Check every option; return the resource name, the Secret's name and the extra
    allowed hosts (lowercased)."""
    from bentonb.server.guards import host_pattern

    name = check_label(o.name, "--name", dns_1035=True) if o.name else \
        resource_name(manifest.name)
    check_label(o.namespace, "--namespace")
    if not o.image or any(c.isspace() for c in o.image):
        raise InvalidArgument(f"--image {o.image!r} is not an image reference")
    for flag, value, low in (("--replicas", o.replicas, 1), ("--drain-delay", o.drain_delay, 0),
                             ("--startup-timeout", o.startup_timeout, 1)):
        if not isinstance(value, int) or value < low:
            raise InvalidArgument(f"{flag} {value!r} must be a whole number >= {low}")
    if o.graceful_timeout < 0:
        raise InvalidArgument(f"--graceful-timeout {o.graceful_timeout:g} must be >= 0")
    for request, limit, memory in (("cpu", "cpu_limit", False), ("memory", "memory_limit", True)):
        low = quantity(getattr(o, request), f"--{request}", memory)
        high = quantity(getattr(o, limit), f"--{limit.replace('_', '-')}", memory)
        if high < low:
            raise InvalidArgument(f"--{limit.replace('_', '-')} {getattr(o, limit)} is below "
                                  f"--{request} {getattr(o, request)}: a limit is at least "
                                  "the request")
    hosts = [host_pattern(host) for host in o.allow_hosts]
    if not all(_DNS_1123.match(p) for p in o.cluster_domain.split(".")):
        raise InvalidArgument(f"--cluster-domain {o.cluster_domain!r} is not a domain name")
    if o.hpa_max is None and (o.hpa_min is not None or o.hpa_cpu is not None):
        given = "--hpa-min" if o.hpa_min is not None else "--hpa-cpu"
        raise InvalidArgument(f"{given} needs --hpa-max, which turns the autoscaler on")
    if o.hpa_max is not None:
        if o.hpa_min is not None and o.hpa_min < 1:
            raise InvalidArgument(f"--hpa-min {o.hpa_min} must be >= 1")
        low = o.replicas if o.hpa_min is None else o.hpa_min
        if o.hpa_max < low:
            raise InvalidArgument(f"--hpa-max {o.hpa_max} is below --hpa-min {low} "
                                  "(whose default is --replicas)")
        if o.hpa_cpu is not None and not 1 <= o.hpa_cpu <= 1000:
            raise InvalidArgument(f"--hpa-cpu {o.hpa_cpu} must be a percentage of the CPU "
                                  "request, 1 to 1000")
    if o.secret_manifest and not o.api_key_required:
        raise InvalidArgument("give --secret-manifest or --no-api-key, not both")
    secret = o.api_key_secret or f"{name}-api-key"
    if len(secret) > 253 or not all(_DNS_1123.match(p) for p in secret.split(".")):
        raise InvalidArgument(f"--api-key-secret {secret!r} is not a Secret name: use "
                              "lowercase letters, digits, '-' and '.'")
    return name, secret, hosts


def render(manifest: BundleManifest, options: K8sOptions) -> dict[str, dict[str, Any]]:
    """The manifests for ``options.image`` serving this bundle, by file name (in
    :data:`FILES` order); ``hpa.yaml`` and ``secret.yaml`` only when asked."""
    o = options
    name, secret, extra_hosts = _checked(manifest, o)
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


class _PlainDumper(yaml.SafeDumper):
    """Writes a repeated value out again, never as an ``&anchor``/``*alias`` pair."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(documents: dict[str, dict[str, Any]]) -> str:
    """One multi-document YAML text (``---`` between), in the given order."""
    return yaml.dump_all(documents.values(), Dumper=_PlainDumper, sort_keys=False,
                         explicit_start=True)


def write_manifests(documents: dict[str, dict[str, Any]], directory: Path) -> list[Path]:
    """Write each manifest to its file in ``directory`` (made if missing, files there
    replaced); return the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, document in documents.items():
        path = directory / filename
        path.write_text(yaml.dump(document, Dumper=_PlainDumper, sort_keys=False),
                        encoding="utf-8")
        if filename == "secret.yaml":
            path.chmod(0o600)  # it holds the key in clear text
        paths.append(path)
    return paths
