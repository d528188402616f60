"""Tutorial-compatible path: ``from bentonb.frameworks.pytorch import PytorchModelArtifact``."""

from bentonb.artifacts.pytorch import PytorchModelArtifact

__all__ = ["PytorchModelArtifact"]
