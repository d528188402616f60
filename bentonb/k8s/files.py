"""Kubernetes manifests out as YAML: one stream for stdout, or one file per object.

This module owns :func:`to_yaml` and :func:`write_manifests` (the Secret's file is
mode 0600). It takes the dicts :func:`bentonb.k8s.manifests.render` made and never
builds or changes one; it never imports the rest of bentonb, tornado, docker, the
notebook or the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


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
