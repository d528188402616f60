"""``bentonb.mlflow``: a scikit-learn model logged to a real (file-based) MLflow tracking
store is imported by run URI, registered-model URI and local path, and loads back as a
pyfunc that predicts what the logged model predicts; the seed's own path
(``mlflow.pyfunc.load_model(uri)._model_impl`` then ``bentonb.sklearn.save_model``)
works too. Without mlflow, import_model and load_model say which extra to install and
leave nothing in the model store."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from helpers import run_python

import bentonb
from bentonb.errors import InvalidArgument


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """An iris classifier logged to a file tracking store and registered as ``iris`` v1."""
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("mlflow")
    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    with pytest.MonkeyPatch.context() as patch:
        # MLflow 3 refuses the file store unless asked: it is the one needing no server.
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri((root / "mlruns").as_uri())
        try:
            with mlflow.start_run() as run:
                # cloudpickle: the default (skops) is an extra package MLflow does not ship.
                mlflow.sklearn.log_model(clf, name="model", input_example=X.iloc[:2],
                                         registered_model_name="iris",
                                         serialization_format="cloudpickle")
            local = root / "exported"
            mlflow.sklearn.save_model(clf, str(local), serialization_format="cloudpickle")
            yield {"run_id": run.info.run_id, "local": local, "X": pd.DataFrame(X),
                   "expected": clf.predict(X)}
        finally:
            mlflow.set_tracking_uri(previous)


@pytest.mark.slow  # logging to MLflow takes ~10-20 s (its import, the model's env)
@pytest.mark.parametrize("kind", ["run", "registered", "local"])
def test_imported_mlflow_model_predicts_like_the_logged_one(logged, store_home, kind):
    uri = {"run": f"runs:/{logged['run_id']}/model", "registered": "models:/iris/1",
           "local": str(logged["local"])}[kind]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        model = bentonb.mlflow.import_model("iris_clf", uri, labels={"team": "growth"},
                                            metadata={"auc": 0.97})
    assert model.tag.name == "iris_clf"
    assert model.info.labels == {"team": "growth"}
    assert model.info.metadata == {"model_uri": uri, "auc": 0.97}
    assert (model.path / "mlflow_model" / "MLmodel").is_file()
    assert not (model.path / "_download").exists()
    assert bentonb.mlflow.get("iris_clf:latest").tag == model.tag

    pyfunc = bentonb.mlflow.load_model(model.tag)
    np.testing.assert_array_equal(np.asarray(pyfunc.predict(logged["X"])), logged["expected"])
    # The runner serves the stored model's predict like any other model's.
    runner = bentonb.mlflow.get(model.tag).to_runner()
    runner.init_local()
    np.testing.assert_array_equal(np.asarray(runner.predict.run(logged["X"].iloc[:5])),
                                  logged["expected"][:5])


@pytest.mark.slow
def test_seed_path_model_impl_saved_as_sklearn(logged, store_home):
    """``mlflow.pyfunc.load_model(uri)._model_impl`` is MLflow's wrapper since MLflow 2;
    bentonb.sklearn.save_model takes the estimator out of it."""
    import mlflow

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow_model = mlflow.pyfunc.load_model(model_uri="models:/iris/1")
    saved = bentonb.sklearn.save_model("iris_clf", mlflow_model._model_impl,
                                       signatures={"predict": {"batchable": False}},
                                       custom_objects={"feature_list": list(logged["X"])})
    assert saved.custom_objects["feature_list"][0] == "sepal length (cm)"
    runner = bentonb.sklearn.get(saved.tag).to_runner()
    runner.init_local()
    np.testing.assert_array_equal(runner.predict.run(logged["X"]), logged["expected"])


def test_import_of_a_uri_without_a_model_is_refused_and_stores_nothing(store_home, tmp_path):
    folder = tmp_path / "not_a_model"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(InvalidArgument, match="not an MLflow model"):
        bentonb.mlflow.import_model("churn", str(folder))
    assert bentonb.models.list() == []


#: Run first in a fresh interpreter: importing mlflow fails as if it were not installed.
NO_MLFLOW = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'mlflow':
            raise ImportError(f"{name} is not installed")

sys.meta_path.insert(0, Block())
"""


def test_without_mlflow_import_and_load_name_the_extra(store_home, tmp_path):
    out = run_python(NO_MLFLOW + textwrap.dedent(f"""
        import json
        import bentonb
        from bentonb.errors import MissingDependency
        from bentonb.frameworks import mlflow as flavor
        from bentonb.models import ModelStore

        said = []
        try:
            bentonb.mlflow.import_model("churn", {str(tmp_path / "model")!r})
        except MissingDependency as exc:
            said.append(str(exc))
        said.append([str(m.tag) for m in bentonb.models.list()])

        # A model as import_model would have stored it, written without mlflow.
        def write(path):
            (path / flavor.MLFLOW_DIR).mkdir()
            (path / flavor.MLFLOW_DIR / "MLmodel").write_text("flavors: {{}}\\n")
            return {{}}

        stored = ModelStore().save("churn", framework="mlflow", write=write,
                                   signatures=flavor.DEFAULT_SIGNATURES)
        said.append(bentonb.mlflow.get("churn:latest").tag == stored.tag)
        for load in (lambda: bentonb.mlflow.load_model("churn:latest"), stored.load_model):
            try:
                load()
            except MissingDependency as exc:
                said.append(str(exc))
        print(json.dumps(said))
    """))
    said = json.loads(out.strip().splitlines()[-1])
    hint = "mlflow is required here but is not installed: pip install 'bentonb[mlflow]'"
    assert said == [hint, [], True, hint, hint]
