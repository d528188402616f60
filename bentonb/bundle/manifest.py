"""The bundle manifest (``bento.yaml``): what a bundle is, in one typed structure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from bentonb.errors import BundleError

MANIFEST_FILE = "bento.yaml"


@dataclass
class ApiSpec:
    name: str
    route: str
    input_type: str
    output_type: str
    batch: bool
    mb_max_batch_size: int
    mb_max_latency: float
    doc: str = ""
    input_config: dict[str, Any] = field(default_factory=dict)
    output_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class ArtifactSpec:
    name: str
    type: str
    framework: str = ""
    framework_version: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class EnvInfo:
    pip_packages: list[str] = field(default_factory=list)
    infer_pip_packages: bool = True
    docker_base_image: str | None = None
    setup_sh: str | None = None


@dataclass
class BundleManifest:
    """Everything ``bento.yaml`` records about a saved service."""

    name: str
    version: str
    created_at: str
    module: str
    bentonb_version: str
    python_version: str
    labels: dict[str, str] = field(default_factory=dict)
    apis: list[ApiSpec] = field(default_factory=list)
    artifacts: list[ArtifactSpec] = field(default_factory=list)
    env: EnvInfo = field(default_factory=EnvInfo)

    @property
    def tag(self) -> str:
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True),
                        encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleManifest:
        try:
            known = {f.name for f in fields(cls)}
            values = {k: v for k, v in data.items() if k in known}
            values["apis"] = [ApiSpec(**a) for a in data.get("apis") or []]
            values["artifacts"] = [ArtifactSpec(**a) for a in data.get("artifacts") or []]
            values["env"] = EnvInfo(**(data.get("env") or {}))
            values["labels"] = {str(k): str(v) for k, v in (data.get("labels") or {}).items()}
            return cls(**values)
        except TypeError as exc:
            raise BundleError(f"bundle manifest is malformed: {exc}") from exc

    @classmethod
    def read(cls, bundle_dir: Path) -> BundleManifest:
        path = bundle_dir / MANIFEST_FILE
        if not path.is_file():
            raise BundleError(f"{bundle_dir} is not a bentonb bundle: it has no {MANIFEST_FILE}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise BundleError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise BundleError(f"{path} does not hold a manifest mapping")
        return cls.from_dict(data)
