"""Tutorial-compatible path: ``from bentonb.frameworks.xgboost import XgboostModelArtifact``."""

from bentonb.artifacts.xgboost import XgboostModelArtifact

__all__ = ["XgboostModelArtifact"]
