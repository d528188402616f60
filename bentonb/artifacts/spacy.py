"""SpacyModelArtifact: a spaCy ``Language`` pipeline, saved with ``to_disk``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bentonb.artifacts.base import BaseArtifact, is_instance_of


class SpacyModelArtifact(BaseArtifact):
    framework = "spacy"
    expected = "a spaCy pipeline (spacy.language.Language)"
    modules = ("spacy",)
    framework_module = "spacy"

    def is_model(self, obj: Any) -> bool:
        return is_instance_of(obj, "spacy.language", "Language")

    def save_model(self, model: Any, directory: Path) -> None:
        model.to_disk(directory / "pipeline")

    def load_model(self, directory: Path, options: dict[str, Any]) -> Any:
        import spacy

        return spacy.load(directory / "pipeline")
