"""``bentonb.mlflow``: without mlflow installed, import_model and load_model say which
extra to install and leave nothing in the model store."""

from __future__ import annotations

import sys

import pytest

import bentonb
from bentonb.errors import MissingDependency


@pytest.fixture
def without_mlflow(monkeypatch):
    # None in sys.modules makes `import mlflow` fail, installed or not.
    monkeypatch.setitem(sys.modules, "mlflow", None)


def test_import_model_without_mlflow_names_the_extra(without_mlflow, store_home, tmp_path):
    with pytest.raises(MissingDependency, match=r"pip install 'bentonb\[mlflow\]'"):
        bentonb.mlflow.import_model("churn", str(tmp_path / "mlruns" / "model"),
                                    labels={"team": "growth"})
    assert bentonb.models.list() == []
    assert not (store_home / "models" / "churn").exists()


def test_loading_a_stored_mlflow_model_without_mlflow_names_the_extra(without_mlflow,
                                                                      store_home):
    from bentonb.frameworks import mlflow as flavor
    from bentonb.models import ModelStore

    # A model as import_model would have stored it, written without mlflow.
    def write(path):
        (path / flavor.MLFLOW_DIR).mkdir()
        (path / flavor.MLFLOW_DIR / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
        return {}

    stored = ModelStore().save("churn", framework="mlflow", write=write,
                               signatures=flavor.DEFAULT_SIGNATURES)
    assert bentonb.mlflow.get("churn:latest").tag == stored.tag
    with pytest.raises(MissingDependency, match=r"pip install 'bentonb\[mlflow\]'"):
        bentonb.mlflow.load_model("churn:latest")
    with pytest.raises(MissingDependency, match="mlflow is required"):
        stored.load_model()
