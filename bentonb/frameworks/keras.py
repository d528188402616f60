"""Tutorial-compatible path: ``from bentonb.frameworks.keras import KerasModelArtifact``."""

from bentonb.artifacts.keras import KerasModelArtifact

__all__ = ["KerasModelArtifact"]
