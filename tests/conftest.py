"""Shared fixtures: an isolated store, trained models, service modules written to disk."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

IRIS_SERVICE = '''
import pandas as pd

import bentonb
from bentonb.adapters import DataframeInput
from bentonb.artifact import SklearnModelArtifact


@bentonb.env(infer_pip_packages=True)
@bentonb.artifacts([SklearnModelArtifact('model')])
class IrisClassifier(bentonb.BentoService):
    """A minimum prediction service exposing a Scikit-learn model"""

    @bentonb.api(input=DataframeInput())
    def predict(self, df: pd.DataFrame):
        """Predict iris species."""
        return self.artifacts.model.predict(df)
'''


@pytest.fixture(autouse=True)
def store_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own empty store."""
    home = tmp_path / "bentonb-home"
    monkeypatch.setenv("BENTONB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def iris_data():
    from sklearn import datasets

    iris = datasets.load_iris()
    return iris.data, iris.target


@pytest.fixture(scope="session")
def iris_model(iris_data):
    from sklearn import svm

    X, y = iris_data
    return svm.SVC(gamma="scale").fit(X, y)


class ModuleWriter:
    """Writes service modules into a folder and imports them, as a user's files are."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: list[str] = []
        sys.path.insert(0, str(folder))

    def write(self, name: str, source: str) -> Path:
        path = self.folder / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def load(self, name: str, source: str | None = None):
        if source is not None:
            self.write(name, source)
        sys.modules.pop(name, None)
        importlib.invalidate_caches()
        module = importlib.import_module(name)
        self.names.append(name)
        return module

    def close(self) -> None:
        for name in self.names:
            sys.modules.pop(name, None)
        sys.path.remove(str(self.folder))


@pytest.fixture
def modules(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    writer = ModuleWriter(folder)
    yield writer
    writer.close()


@pytest.fixture
def iris_service(modules, iris_model):
    """A packed IrisClassifier defined in iris_classifier.py, as in the tutorial."""
    cls = modules.load("iris_classifier", IRIS_SERVICE).IrisClassifier
    return cls().pack("model", iris_model)


@pytest.fixture
def serve():
    """Start real servers on 127.0.0.1 (a free port each); stopped after the test."""
    from bentonb.server.app import ServerConfig
    from bentonb.server.thread import BackgroundServer

    servers = []

    def start(service, **options):
        server = BackgroundServer(service, ServerConfig(host="127.0.0.1", port=0, **options))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(timeout=5)
