"""The tutorials' flows per framework: train a real model, pack, save, load in a fresh
process, and get identical predictions."""

from __future__ import annotations

import io
import json
import random
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import run_python
from PIL import Image

import bentonb

TRAIN_DATA = [
    ("Walmart is a leading e-commerce company", {"entities": [(0, 7, "ORG")]}),
    ("I reached Chennai yesterday.", {"entities": [(19, 28, "GPE")]}),
    ("I recently ordered a book from Amazon", {"entities": [(24, 32, "ORG")]}),
    ("I was driving a BMW", {"entities": [(16, 19, "PRODUCT")]}),
    ("I ordered this from ShopClues", {"entities": [(20, 29, "ORG")]}),
    ("Fridge can be ordered in Amazon ", {"entities": [(0, 6, "PRODUCT")]}),
    ("I bought a new Washer", {"entities": [(16, 22, "PRODUCT")]}),
    ("I bought a old table", {"entities": [(16, 21, "PRODUCT")]}),
    ("I bought a fancy dress", {"entities": [(18, 23, "PRODUCT")]}),
    ("I rented a camera", {"entities": [(12, 18, "PRODUCT")]}),
    ("I rented a tent for our trip", {"entities": [(12, 16, "PRODUCT")]}),
    ("I rented a screwdriver from our neighbour", {"entities": [(12, 22, "PRODUCT")]}),
    ("I repaired my computer", {"entities": [(15, 23, "PRODUCT")]}),
    ("I got my clock fixed", {"entities": [(16, 21, "PRODUCT")]}),
    ("I got my truck fixed", {"entities": [(16, 21, "PRODUCT")]}),
    ("Flipkart started it's journey from zero", {"entities": [(0, 8, "ORG")]}),
    ("I recently ordered from Max", {"entities": [(24, 27, "ORG")]}),
    ("Flipkart is recognized as leader in market", {"entities": [(0, 8, "ORG")]}),
    ("I recently ordered from Swiggy", {"entities": [(24, 29, "ORG")]}),
]

SPACY_SERVICE = '''
from bentonb import BentoService, api, env, artifacts
from bentonb.frameworks.spacy import SpacyModelArtifact
from bentonb.adapters import JsonInput


@env(auto_pip_dependencies=True)
@artifacts([SpacyModelArtifact('nlp')])
class SpacyNERService(BentoService):
    @api(input=JsonInput(), batch=True)
    def predict(self, parsed_json_list):
        result = []
        for index, parsed_json in enumerate(parsed_json_list):
            doc = self.artifacts.nlp(parsed_json['text'])
            result.append([{'entity': ent.text, 'label': ent.label_} for ent in doc.ents])
        return result
'''


def train_ner():
    """The tutorial's NER training, on a blank English pipeline (spaCy 3 API)."""
    import spacy
    from spacy.training import Example

    # The tutorial's character offsets are off by a few for some sentences; spaCy warns
    # (W030) and skips those entities, as it did for the tutorial's readers.
    warnings.filterwarnings("ignore", message=r"\[W030\]")
    random.seed(0)
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for _, gold in TRAIN_DATA:
        for ent in gold["entities"]:
            ner.add_label(ent[2])
    examples = [Example.from_dict(nlp.make_doc(t), a) for t, a in TRAIN_DATA]
    nlp.initialize(lambda: examples)
    for _ in range(30):
        random.shuffle(examples)
        for batch in spacy.util.minibatch(examples, size=4):
            nlp.update(batch, drop=0.2)
    return nlp


@pytest.mark.slow  # trains a spaCy NER pipeline: 20 s
def test_spacy_ner_tutorial(modules):
    nlp = train_ner()
    svc = modules.load("bento_service", SPACY_SERVICE).SpacyNERService()
    svc.pack("nlp", nlp)
    texts = [{"text": "I am driving BMW"}, {"text": "I recently ordered from Amazon"},
             {"text": "Flipkart is recognized as leader in market"}]
    expected = svc.predict(texts)
    assert expected[2] == [{"entity": "Flipkart", "label": "ORG"}]
    saved_path = svc.save()
    assert "spacy==" in (Path(saved_path) / "requirements.txt").read_text()
    out = run_python(f"""
        import json, bentonb
        svc = bentonb.load('SpacyNERService:latest')
        api = svc.get_inference_api('predict')
        print(json.dumps(api.run_batch({texts!r})))
    """)
    assert json.loads(out) == expected


NET = '''
from torch import nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1)
        self.norm1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.norm2 = nn.BatchNorm2d(64)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.dropout1 = nn.Dropout2d(0.2)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.norm3 = nn.BatchNorm2d(128)
        self.conv4 = nn.Conv2d(128, 128, 3, padding=1)
        self.norm4 = nn.BatchNorm2d(128)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.dropout2 = nn.Dropout2d(0.3)
        self.conv5 = nn.Conv2d(128, 256, 3, padding=1)
        self.norm5 = nn.BatchNorm2d(256)
        self.conv6 = nn.Conv2d(256, 256, 3, padding=1)
        self.norm6 = nn.BatchNorm2d(256)
        self.pool3 = nn.MaxPool2d(2, 2)
        self.dropout3 = nn.Dropout2d(0.4)
        self.fc1 = nn.Linear(256 * 4 * 4, 256)
        self.norm7 = nn.BatchNorm1d(256)
        self.dropout4 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.norm1(F.relu(self.conv1(x)))
        x = self.dropout1(self.pool1(self.norm2(F.relu(self.conv2(x)))))
        x = self.norm3(F.relu(self.conv3(x)))
        x = self.dropout2(self.pool2(self.norm4(F.relu(self.conv4(x)))))
        x = self.norm5(F.relu(self.conv5(x)))
        x = self.dropout3(self.pool3(self.norm6(F.relu(self.conv6(x)))))
        x = x.view(-1, 256 * 4 * 4)
        x = self.dropout4(self.norm7(F.relu(self.fc1(x))))
        return self.fc2(x)
'''

TORCH_SERVICE = '''
from PIL import Image
import numpy as np
import torch

import bentonb
from bentonb.artifact import PytorchModelArtifact
from bentonb.adapters import ImageInput

classes = ('plane', 'car', 'bird', 'cat',
           'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


def transform(img):
    """ToTensor + Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), without torchvision."""
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (x - 0.5) / 0.5


@bentonb.env(pip_dependencies=['torch', 'Pillow'])
@bentonb.artifacts([PytorchModelArtifact('net')])
class PytorchImageClassifier(bentonb.BentoService):
    @bentonb.api(ImageInput)
    def predict(self, img):
        self.artifacts.net.eval()
        img = Image.fromarray(img).resize((32, 32))
        with torch.no_grad():
            outputs = self.artifacts.net(torch.stack([transform(img)]))
        _, output_classes = outputs.max(dim=1)
        return [classes[output_class] for output_class in output_classes]

    @bentonb.api(ImageInput, batch=True)
    def logits(self, imgs):
        self.artifacts.net.eval()
        batch = torch.stack([transform(Image.fromarray(i).resize((32, 32))) for i in imgs])
        with torch.no_grad():
            return self.artifacts.net(batch).numpy()
'''


def png(seed: int, size=(32, 32)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def test_pytorch_cifar10_tutorial_with_net_from_a_local_file(modules, tmp_path):
    import torch

    torch.manual_seed(0)
    net_module = modules.load("cifar_net", NET)
    net = net_module.Net()
    net.eval()
    svc = modules.load("pytorch_image_classifier", TORCH_SERVICE).PytorchImageClassifier()
    svc.pack("net", net)
    images = [png(i) for i in range(4)]
    files = []
    for i, data in enumerate(images):
        files.append(tmp_path / f"img{i}.png")
        files[-1].write_bytes(data)
    api = svc.get_inference_api("logits")
    expected = np.stack(api.run_batch([api.input_adapter.from_bytes(b) for b in images]))
    labels = [svc.get_inference_api("predict").run_batch(
        [svc.get_inference_api("predict").input_adapter.from_bytes(b)])[0] for b in images]
    saved_path = svc.save()
    reqs = (Path(saved_path) / "requirements.txt").read_text().split()
    assert f"torch=={torch.__version__}" in reqs and "Pillow==" + Image.__version__ in reqs
    (modules.folder / "cifar_net.py").unlink()  # the class must travel inside the bundle
    sys.modules.pop("cifar_net", None)
    out = run_python(f"""
        import json, bentonb
        svc = bentonb.load({saved_path!r})
        api = svc.get_inference_api('logits')
        files = {[str(f) for f in files]!r}
        values = [api.input_adapter.from_cli(f) for f in files]
        print(json.dumps([x.tolist() for x in api.run_batch(values)]))
        pred = svc.get_inference_api('predict')
        print(json.dumps([pred.run_batch([pred.input_adapter.from_cli(f)])[0] for f in files]))
    """)
    got_logits, got_labels = (json.loads(line) for line in out.splitlines())
    np.testing.assert_allclose(np.array(got_logits), expected, rtol=1e-5, atol=1e-5)
    assert got_labels == labels


def test_pytorch_torchscript_module_is_saved_as_torchscript(modules):
    import torch

    torch.manual_seed(1)
    scripted = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(1)))
    cls = modules.load("ts_svc", '''
        import torch
        import bentonb
        from bentonb.adapters import NumpyInput
        from bentonb.artifact import PytorchModelArtifact

        @bentonb.artifacts([PytorchModelArtifact('net')])
        class Scripted(bentonb.BentoService):
            @bentonb.api(input=NumpyInput(dtype="float32", shape=[-1, 4]))
            def probs(self, x):
                with torch.no_grad():
                    return self.artifacts.net(torch.from_numpy(x)).numpy()
    ''').Scripted
    svc = cls().pack("net", scripted)
    x = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    expected = svc.probs(x)
    path = Path(svc.save())
    assert (path / "Scripted/artifacts/net/model.torchscript.pt").is_file()
    out = run_python(f"""
        import json, bentonb
        print(json.dumps(bentonb.load({str(path)!r}).probs({x!r}).tolist()))
    """)
    np.testing.assert_allclose(json.loads(out), expected, rtol=1e-6)


XGB_SERVICE = '''
import bentonb
import xgboost as xgb
from bentonb.adapters import DataframeInput
from bentonb.frameworks.xgboost import XgboostModelArtifact


@bentonb.artifacts([XgboostModelArtifact('clf'), XgboostModelArtifact('booster')])
class XgbIris(bentonb.BentoService):
    @bentonb.api(input=DataframeInput())
    def predict(self, df):
        return self.artifacts.clf.predict(df.to_numpy())

    @bentonb.api(input=DataframeInput())
    def margin(self, df):
        return self.artifacts.booster.predict(xgb.DMatrix(df.to_numpy()))
'''


def test_xgboost_classifier_and_booster(modules, iris_data):
    import xgboost as xgb

    X, y = iris_data
    clf = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)
    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(X, label=y), 10)
    svc = modules.load("xgb_svc", XGB_SERVICE).XgbIris()
    svc.pack("clf", clf).pack("booster", booster)
    path = Path(svc.save())
    assert (path / "XgbIris/artifacts/clf/model.json").is_file()
    assert json.loads((path / "XgbIris/artifacts/clf/model.json").read_text())["learner"]
    assert "xgboost-cpu==" in (path / "requirements.txt").read_text()
    out = run_python(f"""
        import json, bentonb
        svc = bentonb.load({str(path)!r})
        print(json.dumps(svc.predict({X.tolist()}).tolist()))
        print(json.dumps(svc.margin({X.tolist()}).tolist()))
    """)
    got_pred, got_margin = (json.loads(line) for line in out.splitlines())
    assert got_pred == clf.predict(X).tolist()
    np.testing.assert_allclose(got_margin, booster.predict(xgb.DMatrix(X)), rtol=1e-6)


KERAS_SERVICE = '''
import bentonb
from bentonb.adapters import NumpyInput
from bentonb.frameworks.keras import KerasModelArtifact


@bentonb.artifacts([KerasModelArtifact('model')])
class KerasIris(bentonb.BentoService):
    @bentonb.api(input=NumpyInput(dtype="float32", shape=[-1, 4]), batch=False)
    def predict(self, x):
        return self.artifacts.model.predict(x, verbose=0)
'''


@pytest.mark.slow  # Keras on torch: imports and fitting take 10-20 s
def test_keras_model_with_torch_backend(modules, iris_data):
    import keras

    assert keras.backend.backend() == "torch"
    X, y = iris_data
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(X.astype("float32"), y, epochs=3, verbose=0)
    svc = modules.load("keras_svc", KERAS_SERVICE).KerasIris().pack("model", model)
    expected = svc.predict(X[:10].tolist())
    path = Path(svc.save())
    assert (path / "KerasIris/artifacts/model/model.keras").is_file()
    out = run_python(f"""
        import json, os, bentonb
        os.environ.pop("KERAS_BACKEND", None)
        print(json.dumps(bentonb.load({str(path)!r}).predict({X[:10].tolist()}).tolist()))
    """)
    np.testing.assert_allclose(json.loads(out), expected, rtol=1e-5)


@pytest.mark.parametrize("artifact, module, bad", [
    ("SpacyModelArtifact", "bentonb.frameworks.spacy", "a string"),
    ("PytorchModelArtifact", "bentonb.frameworks.pytorch", [1, 2]),
    ("XgboostModelArtifact", "bentonb.frameworks.xgboost", {"a": 1}),
    ("KerasModelArtifact", "bentonb.frameworks.keras", 3.5),
])
def test_every_framework_refuses_foreign_objects(artifact, module, bad):
    import importlib

    cls = getattr(importlib.import_module(module), artifact)

    @bentonb.artifacts([cls("m")])
    class Svc(bentonb.BentoService):
        pass

    with pytest.raises(bentonb.errors.ArtifactTypeError, match=f"'m' \\({artifact}\\) expects"):
        Svc().pack("m", bad)


FRAMEWORK_MODULES = ["sklearn", "pytorch", "keras", "xgboost", "spacy", "picklable", "json",
                     "fastai"]


@pytest.mark.parametrize("name", FRAMEWORK_MODULES)
def test_every_framework_module_has_the_same_verbs(name):
    import importlib

    module = importlib.import_module(f"bentonb.frameworks.{name}")
    for verb in ("framework_version", "is_model", "save_model_to_dir", "load_model_from_dir"):
        assert callable(getattr(module, verb)), f"bentonb.frameworks.{name} lacks {verb}()"
    artifacts = [c for c in vars(module).values() if isinstance(c, type)
                 and issubclass(c, bentonb.frameworks.BaseArtifact)
                 and c is not bentonb.frameworks.BaseArtifact]
    assert len(artifacts) == 1, artifacts
    cls = artifacts[0]
    assert (cls.framework, cls.expected, cls.modules) == (
        module.FRAMEWORK, module.EXPECTED, module.MODULES)
    assert bentonb.frameworks.artifact_class(cls.__name__) is cls
    assert module.is_model(object()) is (name == "picklable")


def test_sklearn_module_functions_round_trip_a_model(tmp_path, iris_model, iris_data):
    import sklearn

    from bentonb.frameworks import sklearn as flavor

    X, _ = iris_data
    assert flavor.is_model(iris_model)
    assert flavor.framework_version() == sklearn.__version__
    options = flavor.save_model_to_dir(iris_model, tmp_path)
    assert options == {} and (tmp_path / "model.joblib").is_file()
    loaded = flavor.load_model_from_dir(tmp_path, options)
    assert loaded.predict(X).tolist() == iris_model.predict(X).tolist()


def test_picklable_and_json_module_functions_round_trip(tmp_path):
    from bentonb.frameworks import json as json_flavor
    from bentonb.frameworks import picklable

    value = {"labels": ["setosa", "versicolor"], "threshold": 0.5}
    json_flavor.save_model_to_dir(value, tmp_path)
    assert json.loads((tmp_path / "data.json").read_text()) == value
    assert json_flavor.load_model_from_dir(tmp_path) == value
    assert not json_flavor.is_model({1, 2})
    picklable.save_model_to_dir(np.arange(5), tmp_path)
    assert picklable.load_model_from_dir(tmp_path).tolist() == [0, 1, 2, 3, 4]


def test_xgboost_loads_only_xgboost_model_classes_named_by_a_manifest(tmp_path, iris_data):
    import xgboost as xgb

    from bentonb.frameworks import xgboost as flavor

    X, y = iris_data
    clf = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    options = flavor.save_model_to_dir(clf, tmp_path)
    assert options == {"class": "XGBClassifier"}
    loaded = flavor.load_model_from_dir(tmp_path, options)
    assert type(loaded) is xgb.XGBClassifier
    assert loaded.predict(X).tolist() == clf.predict(X).tolist()
    for bad in ("DMatrix", "train", "no_such_thing", 3):
        with pytest.raises(bentonb.errors.BundleError, match="not an XGBoost model class"):
            flavor.load_model_from_dir(tmp_path, {"class": bad})


def test_fastai_artifact_says_fastai_is_missing(tmp_path, monkeypatch):
    # fastai is not installed here (it needs a torchvision for this CPU torch); this
    # checks what a user without it sees. The import is blocked so the test means the
    # same wherever it runs.
    monkeypatch.setitem(sys.modules, "fastai", None)
    monkeypatch.setitem(sys.modules, "fastai.learner", None)
    from bentonb.artifact import FastaiModelArtifact
    from bentonb.errors import MissingDependency
    from bentonb.frameworks import fastai as flavor

    @bentonb.artifacts([FastaiModelArtifact("learner")])
    class FastaiService(bentonb.BentoService):
        pass

    svc = FastaiService()  # declaring the artifact needs no fastai
    assert svc.artifacts["learner"].framework == "fastai"
    with pytest.raises(MissingDependency, match=r"FastaiModelArtifact needs fastai, which "
                                                r"is not installed.*pip install fastai"):
        svc.pack("learner", object())
    with pytest.raises(MissingDependency, match="pip install fastai"):
        flavor.load_model_from_dir(tmp_path, {"format": "export"})
    assert bentonb.frameworks.artifact_class("FastaiModelArtifact") is FastaiModelArtifact
