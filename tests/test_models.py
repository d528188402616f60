"""The 1.x model store: save_model/get/load_model per framework, runners, archives,
bad names and the `bentonb models` commands."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from helpers import bentonb_cli

import bentonb
from bentonb.errors import ArtifactTypeError, BundleError, InvalidArgument, NotFound


def test_sklearn_round_trip(iris_model, iris_data, store_home):
    X, _ = iris_data
    saved = bentonb.sklearn.save_model("iris_clf", iris_model, labels={"stage": "dev"},
                                       metadata={"acc": 0.97}, custom_objects={"k": [1, 2]})
    assert str(saved.tag) == f"iris_clf:{saved.tag.version}" and saved.tag.name == "iris_clf"
    assert saved.path == store_home / "models" / "iris_clf" / saved.tag.version
    assert (saved.path / "model.yaml").is_file()
    info = saved.info
    assert info.signatures == {"predict": {"batchable": False, "batch_dim": 0}}
    assert info.labels == {"stage": "dev"} and info.metadata == {"acc": 0.97}
    assert info.framework_versions["scikit-learn"] and info.creation_time.year >= 2024
    got = bentonb.sklearn.get("iris_clf:latest")
    assert got.tag == saved.tag and got.custom_objects == {"k": [1, 2]}
    loaded = bentonb.sklearn.load_model(saved.tag)
    assert (loaded.predict(X) == iris_model.predict(X)).all()
    runner = got.to_runner()
    runner.init_local()
    assert (runner.predict.run(X[:5]) == iris_model.predict(X[:5])).all()
    assert [m.tag for m in bentonb.models.list()] == [saved.tag]


def test_pytorch_and_xgboost_round_trip(iris_data):
    import torch
    import xgboost

    X, y = iris_data
    net = torch.nn.Sequential(torch.nn.Linear(4, 3))
    saved = bentonb.pytorch.save_model("net", net)
    assert saved.info.signatures == {"__call__": {"batchable": False, "batch_dim": 0}}
    loaded = bentonb.pytorch.load_model("net")
    x = torch.tensor(X[:4], dtype=torch.float32)
    assert torch.allclose(loaded(x), net(x))
    assert torch.allclose(saved.to_runner().run(x), net(x))

    booster = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    bentonb.xgboost.save_model("boost", booster, signatures={"predict": {"batchable": True}})
    back = bentonb.xgboost.load_model("boost:latest")
    assert (back.predict(X) == booster.predict(X)).all()
    assert bentonb.models.get("boost").info.signatures["predict"]["batchable"] is True
    with pytest.raises(InvalidArgument, match="saved with framework 'xgboost', not pytorch"):
        bentonb.pytorch.get("boost")


def test_export_import_and_delete(iris_model, tmp_path):
    saved = bentonb.sklearn.save_model("iris_clf", iris_model)
    archive = bentonb.models.export_model("iris_clf", tmp_path)
    assert archive.endswith(f"iris_clf-{saved.tag.version}.bentomodel")
    with pytest.raises(InvalidArgument, match="already in the store"):
        bentonb.models.import_model(archive)
    bentonb.models.delete("iris_clf")
    with pytest.raises(NotFound, match="no model 'iris_clf'"):
        bentonb.models.get("iris_clf")
    back = bentonb.models.import_model(archive)
    assert back.tag == saved.tag and bentonb.sklearn.load_model(back.tag).predict([[1, 2, 3, 4]])


def _archive(tmp_path, members: dict[str, bytes], links: tuple[str, ...] = ()) -> str:
    file = tmp_path / "bad.bentomodel"
    with tarfile.open(file, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return str(file)


YAML = b"name: m\nversion: v1\nframework: scikit-learn\nsignatures: {predict: {}}\n"


@pytest.mark.parametrize("members, links, message", [
    ({"m/v1/model.yaml": YAML, "../evil": b"x"}, (), "outside the model"),
    ({"m/v1/model.yaml": YAML}, ("m/v1/link",), "link or special file"),
    ({"m/v1/model.yaml": YAML.replace(b"name: m", b"name: other")}, (),
     "names other:v1 but the archive holds m/v1/"),
    ({"..m/v1/model.yaml": YAML}, (), "invalid model name"),
    ({"m/v1/other.yaml": YAML}, (), "expected one Name/version/model.yaml"),
])
def test_hostile_archives_are_refused_and_leave_no_trace(tmp_path, store_home, members,
                                                         links, message):
    with pytest.raises(BundleError, match=message):
        bentonb.models.import_model(_archive(tmp_path, members, links))
    assert not (store_home / "models").exists() or \
        not any(p for p in (store_home / "models").iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "x" * 200])
def test_bad_names_are_refused_before_anything_is_written(iris_model, store_home, name):
    with pytest.raises(InvalidArgument, match="invalid model name"):
        bentonb.sklearn.save_model(name, iris_model)
    assert not (store_home / "models").exists() or not list((store_home / "models").iterdir())


def test_bad_arguments(iris_model):
    with pytest.raises(ArtifactTypeError, match="bentonb.sklearn.save_model expects"):
        bentonb.sklearn.save_model("m", object())
    with pytest.raises(InvalidArgument, match="unknown option 'batchabel'"):
        bentonb.sklearn.save_model("m", iris_model, signatures={"predict": {"batchabel": 1}})
    with pytest.raises(InvalidArgument, match="metadata must hold plain values"):
        bentonb.sklearn.save_model("m", iris_model, metadata={"f": object()})
    with pytest.raises(NotFound, match="did you mean"):
        bentonb.sklearn.save_model("iris_clf", iris_model)
        bentonb.models.get("iris_clff")


def test_models_cli(iris_model, tmp_path):
    saved = bentonb.sklearn.save_model("iris_clf", iris_model, labels={"team": "a"})
    table = bentonb_cli("models", "list")
    assert table.returncode == 0 and "iris_clf:" in table.stdout and "team=a" in table.stdout
    listed = json.loads(bentonb_cli("models", "list", "-o", "json").stdout)
    assert listed[0]["tag"] == str(saved.tag) and listed[0]["framework"] == "scikit-learn"
    shown = bentonb_cli("models", "get", "iris_clf", "-o", "json")
    assert json.loads(shown.stdout)["signatures"] == {"predict": {"batchable": False,
                                                                  "batch_dim": 0}}
    out = bentonb_cli("models", "export", "iris_clf:latest", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert bentonb_cli("models", "delete", "iris_clf", "-y").stdout.strip() == \
        f"deleted {saved.tag}"
    imported = bentonb_cli("models", "import", out.stdout.strip())
    assert imported.stdout.strip() == f"imported {saved.tag}"
    missing = bentonb_cli("models", "get", "nope")
    assert missing.returncode == 1 and "no model 'nope'" in missing.stderr
    assert np.array_equal(bentonb.sklearn.load_model("iris_clf").predict([[5, 3, 1, 0.2]]),
                          iris_model.predict([[5, 3, 1, 0.2]]))
