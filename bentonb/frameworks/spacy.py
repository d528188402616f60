"""Tutorial-compatible path: ``from bentonb.frameworks.spacy import SpacyModelArtifact``."""

from bentonb.artifacts.spacy import SpacyModelArtifact

__all__ = ["SpacyModelArtifact"]
