"""Artifacts: one module per ML framework, each packs, saves and loads a model."""

from bentonb.artifacts.base import BaseArtifact, artifact_class
from bentonb.artifacts.json import JSONArtifact
from bentonb.artifacts.keras import KerasModelArtifact
from bentonb.artifacts.pickle import PickleArtifact
from bentonb.artifacts.pytorch import PytorchModelArtifact
from bentonb.artifacts.sklearn import SklearnModelArtifact
from bentonb.artifacts.spacy import SpacyModelArtifact
from bentonb.artifacts.xgboost import XgboostModelArtifact

__all__ = [
    "BaseArtifact",
    "JSONArtifact",
    "KerasModelArtifact",
    "PickleArtifact",
    "PytorchModelArtifact",
    "SklearnModelArtifact",
    "SpacyModelArtifact",
    "XgboostModelArtifact",
    "artifact_class",
]
