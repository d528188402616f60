"""JSONArtifact: a JSON-serialisable object (labels, thresholds, configuration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bentonb.artifacts.base import BaseArtifact


class JSONArtifact(BaseArtifact):
    framework = "json"
    expected = "a JSON-serialisable object (dict, list, str, number, bool, None)"

    def is_model(self, obj: Any) -> bool:
        try:
            json.dumps(obj)
        except (TypeError, ValueError):
            return False
        return True

    def save_model(self, model: Any, directory: Path) -> None:
        (directory / "data.json").write_text(json.dumps(model), encoding="utf-8")

    def load_model(self, directory: Path, options: dict[str, Any]) -> Any:
        return json.loads((directory / "data.json").read_text(encoding="utf-8"))
