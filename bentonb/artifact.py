"""Tutorial-compatible path: ``from bentonb.artifact import SklearnModelArtifact``."""

from bentonb.artifacts import *  # noqa: F401,F403
from bentonb.artifacts import __all__  # noqa: F401
