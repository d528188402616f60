"""The decorators that declare a service: ``@env``, ``@artifacts`` and ``@api``.

Each checks its arguments once, at class definition, and records them on the
class (:class:`EnvSpec`, the artifact specs, :class:`ApiConfig`);
:class:`BentoService` reads them when a subclass is defined or instantiated.
This module must never import ``bentonb.server`` or any ML framework; from
``bentonb.bundle`` it takes only the route rules an API description shares.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bentonb.adapters.base import input_adapter, output_adapter
from bentonb.adapters.json_output import JsonOutput
from bentonb.bundle.routes import (
    DEFAULT_MB_MAX_BATCH_SIZE,
    DEFAULT_MB_MAX_LATENCY_MS,
    RESERVED_ROUTES,
    check_route,
)
from bentonb.errors import InvalidArgument, did_you_mean
from bentonb.frameworks.base import BaseArtifact
from bentonb.service.bento_service import BentoService, EnvSpec
from bentonb.service.inference_api import ApiConfig, is_streaming


def env(pip_packages: Sequence[str] | None = None, infer_pip_packages: bool | None = None,
        requirements_txt_file: str | None = None, docker_base_image: str | None = None,
        setup_sh: str | None = None, *, auto_pip_dependencies: bool | None = None,
        pip_dependencies: Sequence[str] | None = None) -> Callable[[type], type]:
    """Declare the environment a service's bundle needs.

    ``pip_packages`` (alias ``pip_dependencies``) are added to requirements.txt and
    their pins win over inferred ones; ``infer_pip_packages`` (alias
    ``auto_pip_dependencies``, on by default) pins what the service module imports;
    ``requirements_txt_file`` adds a requirements file's lines;
    ``docker_base_image`` replaces the default ``python:X.Y-slim``; ``setup_sh``
    is a shell script run while the image is built.
    """
    packages = list(pip_packages or []) + list(pip_dependencies or [])
    if any(not isinstance(p, str) or not p.strip() for p in packages):
        raise InvalidArgument(f"@env(pip_packages=...) must be a list of requirement strings, "
                              f"got {packages!r}")
    infer = infer_pip_packages if infer_pip_packages is not None else auto_pip_dependencies
    if requirements_txt_file is not None and not Path(requirements_txt_file).is_file():
        raise InvalidArgument(f"@env(requirements_txt_file={requirements_txt_file!r}): "
                              "no such file")
    spec = EnvSpec(tuple(p.strip() for p in packages), True if infer is None else bool(infer),
                   requirements_txt_file, docker_base_image, setup_sh)

    def decorate(cls: type) -> type:
        _check_service_class(cls, "@env")
        cls._env = spec
        return cls

    return decorate


def artifacts(artifact_list: Sequence[BaseArtifact]) -> Callable[[type], type]:
    """Declare a service's model slots: ``@artifacts([SklearnModelArtifact('model')])``."""
    if isinstance(artifact_list, BaseArtifact):
        artifact_list = [artifact_list]
    names: set[str] = set()
    for art in artifact_list:
        if not isinstance(art, BaseArtifact):
            raise InvalidArgument(f"@artifacts takes artifact instances such as "
                                  f"SklearnModelArtifact('model'); got {art!r}")
        if art.name in names:
            raise InvalidArgument(f"@artifacts declares '{art.name}' twice")
        names.add(art.name)

    def decorate(cls: type) -> type:
        _check_service_class(cls, "@artifacts")
        cls._artifact_specs = tuple(artifact_list)
        return cls

    return decorate


def web_static_content(path: str | Path) -> Callable[[type], type]:
    """Serve the files of directory ``path`` from the service's web server:
    ``@web_static_content('./static')``. Its ``index.html`` replaces the default page
    at ``/``; other files are served under their paths (API routes and ``/docs`` keep
    theirs). The directory is copied into the bundle when the service is saved, so a
    bundle serves its own copy wherever it runs; it must exist by then."""
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise InvalidArgument(f"@web_static_content takes a directory path such as "
                              f"'./static', got {path!r}")

    def decorate(cls: type) -> type:
        _check_service_class(cls, "@web_static_content")
        cls._web_static_content = str(path)
        return cls

    return decorate


def _check_service_class(cls: Any, decorator: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, BentoService)):
        raise InvalidArgument(f"{decorator} decorates a BentoService subclass, not {cls!r}")


def api(*args: Any, input: Any = None, output: Any = None, batch: bool = False,
        api_name: str | None = None, route: str | None = None,
        mb_max_batch_size: int | None = None, mb_max_latency: float | None = None,
        **unknown: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Serve a method as an inference API.

    ``input`` is an input adapter instance or class (``@api(ImageInput)`` works);
    ``output`` defaults to :class:`JsonOutput`. With ``batch=True`` the method
    receives a list of inputs (a DataFrame for :class:`DataframeInput`, which is
    always batched) and returns one result per input. ``mb_max_batch_size`` caps
    a micro-batch in items; ``mb_max_latency`` (ms) bounds how long a request may
    take before the server refuses it. A generator (or async generator) method
    streams: the server sends each item as it is yielded, and never batches it.
    The docstring becomes the API's doc.
    """
    if unknown:
        key = next(iter(unknown))
        known = ["input", "output", "batch", "api_name", "route", "mb_max_batch_size",
                 "mb_max_latency"]
        raise InvalidArgument(f"@api got an unknown option '{key}'{did_you_mean(key, known)}")
    if len(args) == 1 and inspect.isfunction(args[0]) and input is None:
        raise InvalidArgument("@api needs an input adapter: write @api(input=JsonInput()) "
                              "rather than a bare @api")
    if len(args) > 1 or (args and input is not None):
        raise InvalidArgument("@api takes one positional argument, the input adapter")
    in_adapter = input_adapter(args[0] if args else input if input is not None else None)
    out_adapter = output_adapter(output) if output is not None else JsonOutput()
    max_batch = _positive(mb_max_batch_size, "mb_max_batch_size", DEFAULT_MB_MAX_BATCH_SIZE, int)
    max_latency = _positive(mb_max_latency, "mb_max_latency", DEFAULT_MB_MAX_LATENCY_MS, float)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        name = api_name or func.__name__
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidArgument(f"API name must be a Python identifier, got {name!r}")
        streaming = is_streaming(func)
        if streaming and batch:
            raise InvalidArgument(f"API '{name}' is a generator: it streams its items and is "
                                  "never micro-batched; drop batch=True")
        func._bentonb_api = ApiConfig(
            func=func, input=in_adapter, output=out_adapter,
            batch=(bool(batch) or in_adapter.always_batch) and not streaming, name=name,
            route=check_route(route, name), mb_max_batch_size=max_batch,
            mb_max_latency=max_latency, doc=inspect.cleandoc(func.__doc__ or ""),
        )
        return func

    return decorate


def _positive(value: Any, name: str, default: Any, kind: type) -> Any:
    if value is None:
        return kind(default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InvalidArgument(f"@api({name}=...) must be a positive number, got {value!r}")
    return kind(value)


_checked_route = check_route  # the older private name
__all__ = ["DEFAULT_MB_MAX_BATCH_SIZE", "DEFAULT_MB_MAX_LATENCY_MS", "RESERVED_ROUTES", "api",
           "artifacts", "env"]
