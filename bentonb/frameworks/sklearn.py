"""Tutorial-compatible path: ``from bentonb.frameworks.sklearn import SklearnModelArtifact``."""

from bentonb.artifacts.sklearn import SklearnModelArtifact

__all__ = ["SklearnModelArtifact"]
