"""What ``model.yaml`` holds: :class:`ModelInfo`, the checked signatures, the file names.

Owns the format of one model version's description and its checks (signatures,
plain YAML values); reads and writes text, never directories. It must never import
the store (:mod:`bentonb.models.model_store`), a framework, the sdk or anything
above the bottom layer: only yaml, :mod:`bentonb.tags` and :mod:`bentonb.errors`.
"""

from __future__ import annotations

import builtins
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from bentonb._version import __version__
from bentonb.errors import BundleError, InvalidArgument, did_you_mean
from bentonb.tags import Tag, check_labels

MODEL_FILE = "model.yaml"
CUSTOM_OBJECTS_FILE = "custom_objects.pkl"
MAX_MODEL_FILE_BYTES = 1 << 20
_SIGNATURE_KEYS = ("batchable", "batch_dim", "input_spec", "output_spec")
def check_signatures(signatures: Any, where: str = "signatures") -> dict[str, dict[str, Any]]:
    """``{"predict": {"batchable": False, "batch_dim": 0}}``, checked and completed."""
    if not isinstance(signatures, Mapping) or not signatures:
        raise InvalidArgument(f"{where} must be a non-empty dict such as "
                              f"{{'predict': {{'batchable': False}}}}, got {signatures!r:.80}")
    checked: dict[str, dict[str, Any]] = {}
    for method, options in signatures.items():
        if not isinstance(method, str) or not method.isidentifier():
            raise InvalidArgument(f"{where}: method name must be an identifier, got {method!r}")
        options = dict(options or {})
        unknown = [k for k in options if k not in _SIGNATURE_KEYS]
        if unknown:
            raise InvalidArgument(f"{where}['{method}'] has unknown option '{unknown[0]}'"
                                  f"{did_you_mean(str(unknown[0]), _SIGNATURE_KEYS)}")
        batchable = options.get("batchable", False)
        dim = options.get("batch_dim", 0)
        if not isinstance(batchable, bool):
            raise InvalidArgument(f"{where}['{method}']['batchable'] must be True or False")
        if isinstance(dim, (builtins.list, tuple)) and len(dim) == 2:
            dim = [int(d) for d in dim]
        elif isinstance(dim, int) and not isinstance(dim, bool):
            dim = int(dim)
        else:
            raise InvalidArgument(f"{where}['{method}']['batch_dim'] must be an int or a "
                                  f"pair (input_dim, output_dim), got {dim!r}")
        checked[method] = {"batchable": batchable, "batch_dim": dim}
    return checked


def _plain(value: Any, what: str) -> dict[str, Any]:
    """A copy of ``value`` that survives a YAML round trip, or a clear error."""
    value = dict(value or {})
    try:
        return yaml.safe_load(yaml.safe_dump(value))
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{what} must hold plain values (str, numbers, lists, dicts); "
                              f"{exc}") from None


@dataclass(frozen=True)
class ModelInfo:
    """What ``model.yaml`` says about one model version."""

    tag: Tag
    framework: str
    framework_versions: dict[str, str | None] = field(default_factory=dict)
    signatures: dict[str, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    bentonb_version: str = __version__

    @property
    def creation_time(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self.created_at)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.tag.name, "version": self.tag.version, "framework": self.framework,
                "framework_versions": self.framework_versions, "signatures": self.signatures,
                "labels": self.labels, "metadata": self.metadata, "options": self.options,
                "created_at": self.created_at, "bentonb_version": self.bentonb_version}

    @classmethod
    def parse(cls, text: str, where: str) -> ModelInfo:
        """Read a ``model.yaml``; anything malformed is refused naming the file."""
        try:
            data = yaml.safe_load(text)
            if not isinstance(data, dict):
                raise InvalidArgument("it is not a mapping")
            return cls(Tag(data.get("name"), data.get("version")),
                       str(data.get("framework") or "python"),
                       dict(data.get("framework_versions") or {}),
                       check_signatures(data.get("signatures") or {"__call__": {}}),
                       check_labels(data.get("labels")), dict(data.get("metadata") or {}),
                       dict(data.get("options") or {}), str(data.get("created_at", "")),
                       str(data.get("bentonb_version", "")))
        except (yaml.YAMLError, InvalidArgument, TypeError, ValueError) as exc:
            raise BundleError(f"{where} is not a valid {MODEL_FILE}: {exc}") from None
