"""One module per ML framework, each of the same shape (see :mod:`bentonb.frameworks.base`).

Importing this package imports every framework module, which registers every
artifact class (a bundle's artifacts are looked up by the registry). None of
them imports its framework until a model is checked, saved or loaded.
"""

from bentonb.frameworks.base import BaseArtifact, artifact_class
from bentonb.frameworks.fastai import FastaiModelArtifact
from bentonb.frameworks.json import JSONArtifact
from bentonb.frameworks.keras import KerasModelArtifact
from bentonb.frameworks.picklable import PickleArtifact
from bentonb.frameworks.pytorch import PytorchModelArtifact
from bentonb.frameworks.sklearn import SklearnModelArtifact
from bentonb.frameworks.spacy import SpacyModelArtifact
from bentonb.frameworks.xgboost import XgboostModelArtifact

__all__ = [
    "BaseArtifact",
    "FastaiModelArtifact",
    "JSONArtifact",
    "KerasModelArtifact",
    "PickleArtifact",
    "PytorchModelArtifact",
    "SklearnModelArtifact",
    "SpacyModelArtifact",
    "XgboostModelArtifact",
    "artifact_class",
]
