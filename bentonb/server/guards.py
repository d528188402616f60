"""What a request's headers claim, checked before anything else runs: Host, Origin,
X-Request-Id.

This module owns the Host allowlist (against DNS rebinding: a web page whose name
resolves to 127.0.0.1 must not reach a local server), the Origin rule (a browser
page of another origin is refused unless listed, and then gets CORS headers), the
hosts and origins of notebook platforms' proxies, and the request id rule. It
holds plain functions over strings: it never imports tornado, notebook/ or the CLI.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import sys
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from bentonb.errors import InvalidArgument

#: Names every local server answers to, with any port.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
#: Binding to one of these listens on every interface.
WILDCARD_BINDS = ("", "0.0.0.0", "::")

# Colab's port proxy (google.colab.kernel.proxyPort): today's *.prod.colab.dev hosts,
# the older *-colab.googleusercontent.com ones, and the notebook page itself. The proxy
# reaches the server as localhost, so its page's Origin differs from the Host it sends.
COLAB_HOSTS = ("*.prod.colab.dev", "*.colab.googleusercontent.com",
               "*-colab.googleusercontent.com")
COLAB_ORIGINS = ("https://colab.research.google.com", "https://*.prod.colab.dev",
                 "https://*.colab.googleusercontent.com", "https://*-colab.googleusercontent.com")

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_FRAGMENT = re.compile(r"^[a-z0-9_.-]+$")
# RFC 9110 token characters: no spaces, quotes, commas or control characters.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")
_ID_PREFIX = os.urandom(6).hex()  # unique per process start, no syscall per request
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A fresh request id, unique within this process start."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"


def request_id(given: str | None) -> str:
    """The client's ``X-Request-Id`` when it is 1-128 token characters, else a new id,
    so a header can never inject text into logs or responses."""
    if given and _REQUEST_ID.match(given):
        return given
    return new_request_id()


def api_key_given(headers: Mapping[str, str]) -> str:
    """The API key a request carries: ``Authorization: Bearer KEY`` or ``X-API-Key``."""
    auth = headers.get("Authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else \
        headers.get("X-API-Key", "")


def split_host(value: str) -> tuple[str, str | None]:
    """``"Example.com:80"`` -> ``("example.com", "80")``; ``"[::1]:5000"`` ->
    ``("::1", "5000")``; no port -> None."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host.rstrip("."), port
    return value.rstrip("."), None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def host_pattern(value: str, what: str = "--allow-host") -> str:
    """Check one allowed-host pattern and return it lowercased. A pattern is ``*`` (any
    host), a name or IP address (any port), or ``*`` + suffix (``*.example.com``)."""
    raw = value.strip().lower()
    if raw == "*":
        return raw
    host, port = split_host(raw)
    if port is not None:
        raise InvalidArgument(f"{what} {value!r}: give the host without a port "
                              "(every port of an allowed host is allowed)")
    if _is_ip(host):
        return host
    if host.startswith("*"):
        rest = host[1:]
        if rest[:1] in (".", "-") and _FRAGMENT.match(rest) and rest.strip(".-"):
            return host
    elif host and all(_LABEL.match(label) for label in host.split(".")):
        return host
    raise InvalidArgument(f"{what} {value!r} is not a host: use a name (api.example.com), "
                          "a suffix pattern (*.example.com), an IP address, or * for any")


def origin_pattern(value: str) -> str:
    """Check one ``--cors-origin``: ``*``, or ``scheme://host[:port]`` where host may be a
    suffix pattern (``https://*.example.com``); returned lowercased, without a slash."""
    raw = value.strip().lower().rstrip("/")
    if raw in ("*", "null"):
        return raw
    parts = urlsplit(raw)
    if parts.scheme in ("http", "https") and parts.netloc and not (
            parts.path or parts.query or parts.fragment or "@" in parts.netloc):
        host, port = split_host(parts.netloc)
        if port is None or port.isdigit():
            host_pattern(host, "--cors-origin")
            return raw
    raise InvalidArgument(f"--cors-origin {value!r} is not an origin: use "
                          "scheme://host[:port] such as https://app.example.com, or *")


def patterns(values: str | Iterable[str] | None, check) -> tuple[str, ...]:
    """Split comma-separated values (from flags, environment or Python) and check each."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(check(part) for value in values for part in value.split(",") if part.strip())


def _matches(host: str, pattern: str) -> bool:
    if pattern == "*" or host == pattern:
        return True
    return pattern.startswith("*") and host.endswith(pattern[1:])


def _default_port(scheme: str) -> str:
    return "443" if scheme == "https" else "80"


def platform_defaults() -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """Hosts and origins that a notebook platform's proxy sends, allowed there by default,
    and a note saying why. Colab's proxy reaches the server as localhost from its
    own origins; JupyterHub and Binder (jupyter-server-proxy) pass on the browser's
    own Host header, the hub's public name, which the server cannot always know: then
    any Host is allowed, since no browser runs inside the hub's container."""
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return COLAB_HOSTS, COLAB_ORIGINS, "Colab's port proxy"
    if os.environ.get("JUPYTERHUB_SERVICE_PREFIX"):
        hosts = []
        for name in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_HOST"):
            host = urlsplit(os.environ.get(name) or "").hostname
            if host:
                hosts.append(host)
        return (tuple(hosts) or ("*",)), (), "JupyterHub/Binder's jupyter-server-proxy"
    return (), (), None


class RequestGuard:
    """Decides which Host and Origin headers a server answers.

    Allowed hosts: the loopback names, the bound address (with a wildcard bind, any
    IP address and this machine's names), the platform's proxy hosts, and
    ``allow_hosts``. Allowed origins: the request's own host, and ``cors_origins``
    (those get CORS headers). :meth:`allow_host` adds a host while serving (an
    ngrok tunnel's public name).
    """

    def __init__(self, bind: str, allow_hosts: Iterable[str] = (),
                 cors_origins: Iterable[str] = (), platform: bool = True) -> None:
        extra_hosts, extra_origins, self.platform = platform_defaults() if platform else \
            ((), (), None)
        bind = bind.strip("[]").lower()
        self.wildcard = bind in WILDCARD_BINDS
        hosts = {*LOOPBACK_HOSTS, *extra_hosts, *allow_hosts}
        if not self.wildcard:
            hosts.add(bind)
        else:
            import socket

            # The machine's own name; no DNS lookup, which may hang in a container.
            hosts.add(socket.gethostname().lower())
        self.hosts = frozenset(hosts)
        self.cors_origins = tuple(dict.fromkeys((*extra_origins, *cors_origins)))

    def allow_host(self, host: str) -> None:
        """Answer requests for ``host`` from now on (checked like ``--allow-host``)."""
        self.hosts = self.hosts | {host_pattern(host)}

    def host_allowed(self, header: str | None) -> bool:
        """True when a request with this Host header may be answered."""
        if not header:
            return True  # HTTP/1.0 without Host: not a browser
        host, _ = split_host(header)
        if host in self.hosts:
            return True
        if self.wildcard and _is_ip(host):
            return True  # an IP address cannot be rebound by DNS
        return any(_matches(host, p) for p in self.hosts)

    def origin(self, origin: str | None, host_header: str | None,
               scheme: str) -> tuple[bool, bool]:
        """``(allowed, cors)`` for a request's Origin header: same-origin (the Origin's
        host and port are the request's Host) is allowed without CORS headers, a listed
        origin with them, any other refused."""
        if origin is None:
            return True, False
        value = origin.strip().lower().rstrip("/")
        parts = urlsplit(value)
        if host_header and parts.scheme in ("http", "https"):
            o_host, o_port = split_host(parts.netloc)
            h_host, h_port = split_host(host_header)
            # A proxy in front (ngrok, a hub) sends the public name without a port.
            o_port = o_port or _default_port(parts.scheme)
            if o_host == h_host and h_port in (None, o_port):
                return True, False
        for pattern in self.cors_origins:
            if pattern == "*" or pattern == value:
                return True, True
            p_scheme, _, p_host = pattern.partition("://")
            if p_host.startswith("*") and parts.scheme == p_scheme and \
                    _matches(parts.netloc, p_host):
                return True, True
        return False, False
