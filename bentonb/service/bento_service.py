"""The service class of the 0.x API: :class:`BentoService`, its model slots
(:class:`ArtifactCollection`) and what ``@env`` records (:class:`EnvSpec`).

A service is a class. ``@artifacts`` declares its model slots, ``@api`` marks
the methods served as inference APIs, ``@env`` says what the bundle needs to
run (the decorators live in :mod:`bentonb.service.decorators`). An instance is
packed with models (``svc.pack('model', clf)``), called in Python
(``svc.predict(df)``), saved as a versioned bundle (``svc.save()``). This
module must never import ``bentonb.server`` or any ML framework; it reaches
the bundle writer and the store only inside ``save`` and ``save_to_dir``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bentonb.bundle.writer import save_bundle, save_to_dir
from bentonb.errors import InvalidArgument, NotFound, did_you_mean
from bentonb.frameworks.base import BaseArtifact
from bentonb.service.inference_api import ApiConfig, InferenceAPI


@dataclass(frozen=True)
class EnvSpec:
    """What ``@env`` recorded: the packages and image a bundle needs."""

    pip_packages: tuple[str, ...] = ()
    infer_pip_packages: bool = True
    requirements_txt_file: str | None = None
    docker_base_image: str | None = None
    setup_sh: str | None = None


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


def _refuse_class_style_api(cls: type, attr: str, value: Any) -> None:
    """A method marked by the 1.2+ ``@bentonb.api`` (bare or ``batchable=``) in a
    BentoService: the 0.x error, since a BentoService API names its input adapter."""
    options = getattr(value, "__bentonb_class_api__", None)
    if options is None:
        return
    if options.bare:
        raise InvalidArgument(f"{cls.__name__}.{attr}: @api needs an input adapter: write "
                              "@api(input=JsonInput()) rather than a bare @api")
    raise InvalidArgument(f"{cls.__name__}.{attr}: a BentoService API takes @api(input=..., "
                          "batch=...); batchable=, max_batch_size= and friends are for "
                          "@bentonb.service classes")


class BentoService:
    """Base class of prediction services.

    Subclass it, decorate with ``@artifacts`` / ``@env``, and mark APIs with
    ``@api``. Instances hold packed models and are what ``save()`` writes.
    """

    #: Marks every service class for the bundle loader, which never imports this module.
    __bentonb_service__ = True
    _artifact_specs: tuple[BaseArtifact, ...] = ()
    _env: EnvSpec = EnvSpec()
    #: The directory ``@web_static_content`` named, as written (relative to the cwd).
    _web_static_content: str | None = None
    _api_configs: dict[str, ApiConfig] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        configs = dict(getattr(cls, "_api_configs", {}))
        for attr, value in list(vars(cls).items()):
            _refuse_class_style_api(cls, attr, value)
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
        #: The files the web server serves at ``/``: the ``@web_static_content``
        #: directory here, the bundle's own copy once loaded from a bundle.
        self.web_static_dir: Path | None = (
            Path(self._web_static_content).expanduser().resolve()
            if self._web_static_content else None)

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
        ``$BENTONB_HOME``, a local directory: a URL such as ``s3://...`` is refused);
        return its path, and log ``BentoService bundle 'Name:version' saved to: PATH``.
        Nothing is written when the name, version or labels are invalid, and nothing is
        left behind when the save fails."""
        return str(save_bundle(self, base_path, version=version, labels=labels))

    def save_to_dir(self, path: str | Path, version: str | None = None,
                    labels: dict[str, str] | None = None) -> str:
        """Write the same bundle into ``path`` (new or empty); return it."""
        return str(save_to_dir(self, path, version=version, labels=labels))
