"""The 1.2+ decorators: ``@bentonb.api`` on a method, ``@bentonb.service`` on a class.

They check their options at once (a bad one is an :class:`InvalidArgument` naming
it), read each API's signature from its annotations, and record what they were
given on the method and the class, which stay plain Python.
:mod:`bentonb.sdk.classes` turns a decorated class's instance into a service.
Never imports the server or the CLI.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bentonb.errors import InvalidArgument, did_you_mean
from bentonb.sdk.signature import ApiSignature, read_signature
from bentonb.tags import check_name

#: The attribute ``@bentonb.api`` sets on a method, and ``@bentonb.service`` on a class.
API_MARK = "__bentonb_class_api__"
SERVICE_MARK = "__bentonb_class_service__"
TRAFFIC_KEYS = ("timeout", "max_concurrency", "concurrency", "external_queue")


@dataclass(frozen=True)
class ApiOptions:
    """What ``@bentonb.api(...)`` was given for one method."""

    batchable: bool = False
    batch_dim: int = 0
    max_batch_size: int = 100
    max_latency_ms: float = 60_000
    route: str | None = None
    name: str | None = None
    input_spec: Any = None
    output_spec: Any = None
    bare: bool = False


@dataclass(frozen=True)
class ServiceOptions:
    """What ``@bentonb.service(...)`` was given, and the methods it found."""

    name: str
    resources: Mapping[str, Any]
    traffic: Mapping[str, Any]
    apis: tuple[tuple[str, ApiOptions, ApiSignature], ...]


def _positive(value: Any, what: str, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InvalidArgument(f"@bentonb.api({what}=...) must be a positive number, "
                              f"got {value!r}")
    return kind(value)


def api(func: Callable[..., Any] | None = None, *, batchable: bool = False, batch_dim: int = 0,
        max_batch_size: int = 100, max_latency_ms: float = 60_000, route: str | None = None,
        name: str | None = None, input_spec: Any = None, output_spec: Any = None) -> Any:
    """Mark a method of a ``@bentonb.service`` class as an API (bare or with options).

    Its inputs and output come from its type annotations. ``batchable=True`` makes it
    a batch API: it receives the concatenation (on ``batch_dim``) of concurrent
    requests' arrays or frames, at most ``max_batch_size`` requests' worth, and a
    request that cannot be answered within ``max_latency_ms`` is refused (503).
    """
    options = ApiOptions(bool(batchable), int(batch_dim),
                         _positive(max_batch_size, "max_batch_size", int),
                         _positive(max_latency_ms, "max_latency_ms", float), route, name,
                         input_spec, output_spec, bare=func is not None)

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isfunction(method):
            raise InvalidArgument(f"@bentonb.api decorates a method, not {method!r:.80}")
        setattr(method, API_MARK, options)
        return method

    return decorate(func) if func is not None else decorate


def service(cls: type | None = None, *, name: str | None = None,
            resources: Mapping[str, Any] | None = None,
            traffic: Mapping[str, Any] | None = None, **unknown: Any) -> Any:
    """Make a class a service: ``@bentonb.service(traffic={"timeout": 30})``.

    ``traffic["timeout"]`` (seconds) and ``traffic["max_concurrency"]`` are kept on
    every API (``api.timeout``, ``api.max_concurrency``); ``resources`` is recorded
    as given (``service.resources``); this server runs on what its host has.
    """
    if unknown:
        key = next(iter(unknown))
        raise InvalidArgument(f"@bentonb.service got an unknown option '{key}'"
                              f"{did_you_mean(key, ['name', 'resources', 'traffic'])}")
    for what, value in (("resources", resources), ("traffic", traffic)):
        if value is not None and not isinstance(value, Mapping):
            raise InvalidArgument(f"@bentonb.service({what}=...) takes a dict, got {value!r:.80}")
    for key in traffic or {}:
        if key not in TRAFFIC_KEYS:
            raise InvalidArgument(f"@bentonb.service(traffic=...) has no option '{key}' "
                                  f"(known: {', '.join(TRAFFIC_KEYS)})"
                                  f"{did_you_mean(key, TRAFFIC_KEYS)}")
    if (traffic or {}).get("timeout") is not None:
        _positive(traffic["timeout"], "traffic timeout", float)

    def decorate(target: type) -> type:
        if not isinstance(target, type):
            raise InvalidArgument(f"@bentonb.service decorates a class, not {target!r:.80}")
        if getattr(target, "__bentonb_service__", False):
            raise InvalidArgument(f"{target.__name__} is a BentoService (0.x): give it 0.x "
                                  "@api(input=...) methods, or drop the BentoService base")
        service_name = check_name(name or target.__name__, "service")
        apis = []
        for attr, value in vars(target).items():
            if getattr(value, "_bentonb_api", None) is not None:
                raise InvalidArgument(
                    f"{target.__name__}.{attr} uses the 0.x @api(input=...); in a "
                    "@bentonb.service class write @bentonb.api and annotate the parameters")
            options = getattr(value, API_MARK, None)
            if options is not None:
                model = f"{target.__name__}_{options.name or attr}_Input"
                apis.append((attr, options, read_signature(
                    value, model, options.batchable, options.input_spec, options.output_spec)))
        if not apis:
            raise InvalidArgument(f"@bentonb.service class {target.__name__} has no "
                                  "@bentonb.api method")
        setattr(target, SERVICE_MARK, ServiceOptions(service_name, dict(resources or {}),
                                                     dict(traffic or {}), tuple(apis)))
        return target

    return decorate(cls) if cls is not None else decorate
