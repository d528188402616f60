"""The BentoML 1.2+ class style: ``@bentonb.service`` classes whose ``@bentonb.api``
methods take type-annotated parameters, served over real HTTP (in-process and by
``bentonb serve module:ClassName``), next to the 0.x ``@bentonb.api(input=...)``."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from helpers import ServeProcess

import bentonb
from bentonb.errors import InvalidArgument, NotFound
from bentonb.sdk import ClassService

IRIS_CLASS_SERVICE = '''
import time

import numpy as np
from pydantic import BaseModel

import bentonb
from bentonb.models import BentoModel


class Flower(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


@bentonb.service(resources={"cpu": "1"}, traffic={"timeout": 30})
class IrisClassifier:
    """Iris species from flower measurements."""

    iris_model = BentoModel("iris_clf:latest")

    def __init__(self) -> None:
        self.model = bentonb.sklearn.load_model(self.iris_model)
        self.calls = 0

    @bentonb.api(batchable=True, max_batch_size=100, max_latency_ms=60_000)
    def classify(self, features: np.ndarray) -> np.ndarray:
        """Species of each row of measurements."""
        self.calls += 1
        time.sleep(0.02)  # a model call costs time, so concurrent requests queue up
        return self.model.predict(features)

    @bentonb.api(route="/flower")
    def species(self, flower: Flower) -> dict:
        row = [[flower.sepal_length, flower.sepal_width, flower.petal_length,
                flower.petal_width]]
        return {"species": int(self.model.predict(row)[0])}

    @bentonb.api
    def scale(self, value: float, factor: int = 2, label: str = "x") -> dict:
        return {"label": label, "value": value * factor}
'''


@pytest.fixture
def iris_clf(iris_model):
    return bentonb.sklearn.save_model("iris_clf", iris_model)


@pytest.fixture
def iris_module(modules, iris_clf):
    return modules.load("iris_class_service", IRIS_CLASS_SERVICE)


def _metric(text: str, name: str, api: str) -> float:
    match = re.search(rf'^{name}\{{api="{re.escape(api)}"\}} (\S+)$', text, re.M)
    assert match, f"{name} for {api} not in /metrics"
    return float(match.group(1))


def test_the_class_is_a_plain_class_and_its_apis_come_from_annotations(iris_module, iris_data):
    X, y = iris_data
    svc = ClassService(iris_module.IrisClassifier)
    apis = {a.name: a for a in svc.inference_apis}
    assert [(a.name, a.route, a.batch, a.input_adapter.type_name) for a in apis.values()] == [
        ("classify", "classify", True, "NumpyNdarray"), ("species", "flower", False, "JSON"),
        ("scale", "scale", False, "JSON")]
    assert (apis["classify"].mb_max_batch_size, apis["classify"].mb_max_latency) == (100, 60000)
    assert apis["species"].timeout == 30.0 and svc.resources == {"cpu": "1"}
    assert [str(m.tag) for m in svc.models] == [str(bentonb.models.get("iris_clf").tag)]
    # One call answers two requests' rows, cut back per request.
    first, second = apis["classify"].run_batch([X[:1], X[50:53]])
    assert first.tolist() == [0] and second.tolist() == [1, 1, 1]
    assert svc.instance.calls == 1
    assert apis["scale"]({"value": 1.5}) == {"label": "x", "value": 3.0}
    # The class stays a class: instances call their methods directly.
    assert iris_module.IrisClassifier().classify(X[100:101]).tolist() == [2]


def test_class_service_over_http_batches_validates_and_documents(iris_module, iris_data, serve):
    X, y = iris_data
    server = serve(ClassService(iris_module.IrisClassifier))

    def call(i: int) -> tuple[int, list]:
        r = requests.post(f"{server.url}/classify", json=[X[i].tolist()], timeout=60)
        assert r.status_code == 200, r.text
        return i, r.json()

    expected = ClassService(iris_module.IrisClassifier).instance.model.predict(X).tolist()
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(call, range(100)))
    assert all(body == [expected[i]] for i, body in answers)
    text = requests.get(f"{server.url}/metrics", timeout=30).text
    calls = _metric(text, "bentonb_batch_size_count", "classify")
    items = _metric(text, "bentonb_batch_size_sum", "classify")
    assert items == 100 and calls < 100, (calls, items)  # some batches held > 1 request

    flower = dict(zip(["sepal_length", "sepal_width", "petal_length", "petal_width"],
                      X[120].tolist()))
    r = requests.post(f"{server.url}/flower", json=flower, timeout=30)
    assert r.status_code == 200 and r.json() == {"species": expected[120]}
    r = requests.post(f"{server.url}/flower", json={"sepal_length": "long"}, timeout=30)
    assert r.status_code == 400
    error = r.json()["error"]
    for field in ("sepal_length", "sepal_width", "petal_length", "petal_width"):
        assert field in error
    r = requests.post(f"{server.url}/scale", json={"value": 2, "factor": 3}, timeout=30)
    assert r.status_code == 200 and r.json() == {"label": "x", "value": 6.0}
    r = requests.post(f"{server.url}/scale", json={"factor": "three"}, timeout=30)
    assert r.status_code == 400
    assert "value: Field required" in r.json()["error"] and "factor:" in r.json()["error"]

    from openapi_spec_validator import validate

    spec = requests.get(f"{server.url}/docs.json", timeout=30).json()
    validate(spec)
    assert spec["info"]["description"] == "Iris species from flower measurements."
    body = spec["paths"]["/scale"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) == {"value", "factor", "label"}
    assert body["schema"]["required"] == ["value"]


def test_bentonb_serve_module_class_name(tmp_path, iris_clf, iris_data):
    X, _ = iris_data
    (tmp_path / "iris_cls.py").write_text(IRIS_CLASS_SERVICE, encoding="utf-8")
    with ServeProcess("iris_cls:IrisClassifier", "--port", "0",
                      cwd=tmp_path).wait_started(120) as server:
        r = requests.post(f"{server.url}/classify", json=X[[0, 50, 100]].tolist(), timeout=30)
        assert r.status_code == 200 and r.json() == [0, 1, 2]
        assert server.stop() == 0
    assert "bentonb serving IrisClassifier at" in server.output


def test_bentomodel_names_a_missing_model(modules):
    module = modules.load("missing_model_service", '''
import bentonb

@bentonb.service
class Missing:
    ref = bentonb.BentoModel("nowhere:latest")

    @bentonb.api
    def echo(self, text: str) -> str:
        return text
''')
    with pytest.raises(NotFound, match="no model 'nowhere:latest'"):
        ClassService(module.Missing)


def test_one_api_name_serves_both_generations():
    from bentonb.adapters import JsonInput

    class Legacy(bentonb.BentoService):
        @bentonb.api(input=JsonInput())
        def echo(self, body):
            return body

    assert Legacy().echo({"a": 1}) == {"a": 1}
    with pytest.raises(InvalidArgument, match=r"@api needs an input adapter: write "
                                              r"@api\(input=JsonInput\(\)\)"):
        class Bare(bentonb.BentoService):
            @bentonb.api
            def echo(self, body):
                return body
    with pytest.raises(InvalidArgument, match="batchable=, max_batch_size= and friends"):
        class Batchable(bentonb.BentoService):
            @bentonb.api(batchable=True)
            def echo(self, body):
                return body
    with pytest.raises(InvalidArgument, match="unknown option 'bacth'.*did you mean 'batch'"):
        bentonb.api(input=JsonInput(), bacth=True)
    with pytest.raises(InvalidArgument, match="mixes 0.x options"):
        bentonb.api(input=JsonInput(), batchable=True)
    with pytest.raises(InvalidArgument, match="uses the 0.x @api"):
        @bentonb.service
        class Mixed:
            @bentonb.api(input=JsonInput())
            def echo(self, body):
                return body
    with pytest.raises(InvalidArgument, match="takes one parameter annotated np.ndarray"):
        @bentonb.service
        class WrongBatch:
            @bentonb.api(batchable=True)
            def echo(self, text: str) -> str:
                return text
    with pytest.raises(InvalidArgument, match="traffic=...\\) has no option 'timout'"):
        bentonb.service(traffic={"timout": 3})
    assert bentonb.service.BentoService is bentonb.BentoService


def test_traffic_timeout_bounds_each_request_of_the_service(serve):
    import threading

    released = threading.Event()

    @bentonb.service(traffic={"timeout": 0.3})
    class Patient:
        @bentonb.api
        def wait(self, seconds: float) -> dict:
            released.wait(seconds)
            return {"waited": seconds}

    server = serve(ClassService(Patient))
    try:
        quick = requests.post(f"{server.url}/wait", json={"seconds": 0.0}, timeout=10)
        assert quick.status_code == 200 and quick.json() == {"waited": 0.0}
        slow = requests.post(f"{server.url}/wait", json={"seconds": 5.0}, timeout=10)
        assert slow.status_code == 504
        assert "did not answer within 0.3 s" in slow.json()["error"]
    finally:
        released.set()


def test_a_service_class_is_served_in_the_kernel_by_bentonb_serve():
    @bentonb.service
    class Doubler:
        @bentonb.api
        def double(self, value: float) -> dict:
            return {"twice": value * 2}

    handle = bentonb.serve(Doubler, port=0)
    try:
        r = requests.post(f"{handle.url}/double", json={"value": 2.5}, timeout=10)
        assert r.status_code == 200 and r.json() == {"twice": 5.0}
    finally:
        handle.stop()
