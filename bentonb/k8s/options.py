"""The options of ``bentonb k8s`` and their checks: names, quantities, counts.

This module owns :class:`K8sOptions` (what a user may ask for) and
:func:`check_options`, the one place every option is checked, with errors naming
the flag (``--memory 512m``: did you mean 512Mi?). It knows nothing of the
manifests' shape (that is :mod:`bentonb.k8s.manifests`) nor of files. It never
imports tornado (the server's Host grammar is borrowed inside a function), docker,
yaml, the notebook or the CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bentonb.bundle.manifest import BundleManifest
from bentonb.errors import InvalidArgument

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


def check_options(manifest: BundleManifest, o: K8sOptions) -> tuple[str, str, list[str]]:
    """Check every option of ``o`` for this bundle, naming the flag of any wrong one
    (:class:`InvalidArgument`); return the resource name, the Secret's name and the
    extra allowed hosts (lowercased)."""
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
