"""BentoService and its decorators: ``@env``, ``@artifacts`` and ``@api``.

A service is a class. ``@artifacts`` declares its model slots, ``@api`` marks
the methods served as inference APIs, ``@env`` says what the bundle needs to
run. An instance is packed with models (``svc.pack('model', clf)``), called
in Python (``svc.predict(df)``), saved as a versioned bundle (``svc.save()``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bentonb.adapters.base import (
    BaseInputAdapter,
    BaseOutputAdapter,
    input_adapter,
    output_adapter,
)
from bentonb.adapters.json_output import JsonOutput
from bentonb.artifacts.base import BaseArtifact
from bentonb.bundle.writer import save_bundle, save_to_dir
from bentonb.errors import InvalidArgument, NotFound, OutputError, did_you_mean

#: Routes the server answers itself; an API may not take them.
RESERVED_ROUTES = frozenset({
    "", "docs", "docs.json", "openapi.json", "healthz", "livez", "readyz", "metrics",
    "metadata", "static", "favicon.ico", "ui",
})
DEFAULT_MB_MAX_BATCH_SIZE = 1000
DEFAULT_MB_MAX_LATENCY_MS = 10_000


@dataclass(frozen=True)
class EnvSpec:
    """What ``@env`` recorded: the packages and image a bundle needs."""

    pip_packages: tuple[str, ...] = ()
    infer_pip_packages: bool = True
    requirements_txt_file: str | None = None
    docker_base_image: str | None = None
    setup_sh: str | None = None


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


def _check_service_class(cls: Any, decorator: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, BentoService)):
        raise InvalidArgument(f"{decorator} decorates a BentoService subclass, not {cls!r}")


@dataclass(frozen=True)
class ApiConfig:
    """What ``@api`` recorded about one method."""

    func: Callable[..., Any]
    input: BaseInputAdapter
    output: BaseOutputAdapter
    batch: bool
    name: str
    route: str
    mb_max_batch_size: int
    mb_max_latency: float
    doc: str


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
    take before the server refuses it. The docstring becomes the API's doc.
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
        api_route = (route if route is not None else name).strip("/")
        if api_route.split("/")[0] in RESERVED_ROUTES:
            raise InvalidArgument(
                f"route '/{api_route}' of API '{name}' is reserved by the server "
                f"(reserved: {', '.join(sorted(r for r in RESERVED_ROUTES if r))}); "
                "pick another api_name= or route="
            )
        if not all(part and all(c.isalnum() or c in "-_." for c in part)
                   for part in api_route.split("/")):
            raise InvalidArgument(f"route {route!r} of API '{name}' may hold letters, digits, "
                                  "'-', '_', '.' and '/' only")
        func._bentonb_api = ApiConfig(
            func=func, input=in_adapter, output=out_adapter,
            batch=bool(batch) or in_adapter.always_batch, name=name, route=api_route,
            mb_max_batch_size=max_batch, mb_max_latency=max_latency,
            doc=inspect.cleandoc(func.__doc__ or ""),
        )
        return func

    return decorate


def _positive(value: Any, name: str, default: Any, kind: type) -> Any:
    if value is None:
        return kind(default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InvalidArgument(f"@api({name}=...) must be a positive number, got {value!r}")
    return kind(value)


class InferenceAPI:
    """One API of a service instance: callable in Python, batched by the server."""

    def __init__(self, service: BentoService, config: ApiConfig) -> None:
        self.service = service
        self.config = config
        self._func = config.func.__get__(service, type(service))

    name = property(lambda self: self.config.name)
    route = property(lambda self: self.config.route)
    input_adapter = property(lambda self: self.config.input)
    output_adapter = property(lambda self: self.config.output)
    batch = property(lambda self: self.config.batch)
    mb_max_batch_size = property(lambda self: self.config.mb_max_batch_size)
    mb_max_latency = property(lambda self: self.config.mb_max_latency)
    doc = property(lambda self: self.config.doc)

    def __repr__(self) -> str:
        return (f"<InferenceAPI {self.service.name}.{self.name} "
                f"{self.input_adapter.type_name} -> {self.output_adapter.type_name}>")

    def __call__(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the API function as HTTP would: inputs are normalised by the adapter
        (a list of rows becomes a DataFrame), batch APIs receive a batch."""
        adapter = self.input_adapter
        if self.batch and not adapter.items_are_rows and isinstance(value, (list, tuple)):
            value = [adapter.from_python(v) for v in value]
        else:
            value = adapter.from_python(value)
        return self._func(value, *args, **kwargs)

    def run_batch(self, values: Sequence[Any]) -> list[Any]:
        """Answer many requests' parsed values at once; one result per value, in order.

        A batch API is called once on the merged batch and its result is split
        back per request (a DataFrame request of N rows gets its N results).
        """
        if not self.batch:
            return [self._func(v) for v in values]
        adapter = self.input_adapter
        counts = [adapter.count(v) for v in values]
        result = self._func(adapter.merge(values))
        total = sum(counts)
        try:
            got = len(result)
        except TypeError:
            raise OutputError(
                f"batch API '{self.name}' must return one result per input item "
                f"(a list, array, Series or DataFrame); it returned {type(result).__name__}"
            ) from None
        if got != total:
            raise OutputError(f"batch API '{self.name}' returned {got} results "
                              f"for {total} input items")
        if adapter.items_are_rows:
            return split_rows(result, counts)
        return [_item(result, i) for i in range(total)]


def _item(result: Any, i: int) -> Any:
    iloc = getattr(result, "iloc", None)
    return iloc[i] if iloc is not None else result[i]


def split_rows(result: Any, counts: Sequence[int]) -> list[Any]:
    """Cut a batch result into consecutive slices of the given sizes."""
    iloc = getattr(result, "iloc", None)
    pieces, start = [], 0
    for n in counts:
        pieces.append(iloc[start:start + n] if iloc is not None else result[start:start + n])
        start += n
    return pieces


class ArtifactCollection:
    """``svc.artifacts``: attribute access gives the model, item access the artifact.

    ``self.artifacts.model.predict(df)`` inside an API;
    ``svc.artifacts['model'].metadata`` for what was packed with it.
    """

    def __init__(self, service_name: str, items: Sequence[BaseArtifact]) -> None:
        self._service_name = service_name
        self._items = {a.name: a for a in items}

    def __getitem__(self, name: str) -> BaseArtifact:
        try:
            return self._items[name]
        except KeyError:
            raise NotFound(self._unknown(name)) from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        items = self.__dict__.get("_items", {})
        if name not in items:
            raise AttributeError(self._unknown(name))
        return items[name].get()

    def _unknown(self, name: str) -> str:
        names = ", ".join(self._items) or "none"
        return (f"{self._service_name} has no artifact '{name}' (its artifacts: {names})"
                f"{did_you_mean(name, self._items)}")

    def __iter__(self) -> Iterator[BaseArtifact]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def keys(self) -> list[str]:
        return list(self._items)


class _ApiDescriptor:
    """Makes ``svc.predict`` the instance's :class:`InferenceAPI`."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self.config.func
        return instance._apis[self.config.name]


class BentoService:
    """Base class of prediction services.

    Subclass it, decorate with ``@artifacts`` / ``@env``, and mark APIs with
    ``@api``. Instances hold packed models and are what ``save()`` writes.
    """

    #: Marks every service class for the bundle loader, which never imports this module.
    __bentonb_service__ = True
    _artifact_specs: tuple[BaseArtifact, ...] = ()
    _env: EnvSpec = EnvSpec()
    _api_configs: dict[str, ApiConfig] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        configs = dict(getattr(cls, "_api_configs", {}))
        for attr, value in list(vars(cls).items()):
            config = getattr(value, "_bentonb_api", None)
            if isinstance(value, _ApiDescriptor):
                config = value.config
            if config is None:
                continue
            if config.name in configs and configs[config.name].func is not config.func:
                raise InvalidArgument(f"{cls.__name__} defines API '{config.name}' twice")
            clash = [c.name for c in configs.values()
                     if c.route == config.route and c.name != config.name]
            if clash:
                raise InvalidArgument(f"APIs '{clash[0]}' and '{config.name}' of "
                                      f"{cls.__name__} share the route '/{config.route}'")
            configs[config.name] = config
            setattr(cls, attr, _ApiDescriptor(config))
        cls._api_configs = configs

    def __init__(self) -> None:
        self._artifacts = ArtifactCollection(self.name, [a.fresh() for a in self._artifact_specs])
        self._apis = {name: InferenceAPI(self, cfg) for name, cfg in self._api_configs.items()}
        self.version: str | None = None
        self.bundle_path: Path | None = None
        self.labels: dict[str, str] = {}

    def __repr__(self) -> str:
        tag = f"{self.name}:{self.version}" if self.version else self.name
        return f"<{tag} apis={list(self._apis)} artifacts={self._artifacts.keys()}>"

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def tag(self) -> str | None:
        return f"{self.name}:{self.version}" if self.version else None

    @property
    def artifacts(self) -> ArtifactCollection:
        return self._artifacts

    @property
    def env(self) -> EnvSpec:
        return self._env

    @property
    def inference_apis(self) -> list[InferenceAPI]:
        return list(self._apis.values())

    def get_inference_api(self, name: str) -> InferenceAPI:
        if name not in self._apis:
            raise NotFound(f"{self.name} has no API '{name}' (its APIs: "
                           f"{', '.join(self._apis) or 'none'}){did_you_mean(name, self._apis)}")
        return self._apis[name]

    def pack(self, name: str, obj: Any, metadata: dict[str, Any] | None = None) -> BentoService:
        """Put a model into the artifact ``name``; returns the service for chaining."""
        if name not in self._artifacts:
            raise InvalidArgument(self._artifacts._unknown(name))
        self._artifacts[name].pack(obj, metadata)
        return self

    def save(self, base_path: str | Path | None = None, version: str | None = None,
             labels: dict[str, str] | None = None) -> str:
        """Save a versioned bundle into the store at ``base_path`` (default
        ``$BENTONB_HOME``); return its path. Nothing is written when the name, version
        or labels are invalid, and nothing is left behind when the save fails."""
        return str(save_bundle(self, base_path, version=version, labels=labels))

    def save_to_dir(self, path: str | Path, version: str | None = None,
                    labels: dict[str, str] | None = None) -> str:
        """Write the same bundle into ``path`` (new or empty); return it."""
        return str(save_to_dir(self, Path(path), version=version, labels=labels))
