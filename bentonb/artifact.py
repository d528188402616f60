"""Tutorial path of the 0.x artifact classes: ``from bentonb.artifact import SklearnModelArtifact``.

A re-export of :mod:`bentonb.frameworks`; it holds no code of its own.
"""

from bentonb.frameworks import *  # noqa: F403
from bentonb.frameworks import __all__  # noqa: F401
