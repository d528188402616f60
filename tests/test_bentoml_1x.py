"""The BentoML 1.x API: the online-serving code of the MLOps crash course (seed 003),
with ``bentoml`` replaced by ``bentonb`` and a dict standing in for the Feast online
store, served by the real ``bentonb serve module:svc`` and called in-process."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from helpers import ServeProcess

FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]

SEED_SERVICE = '''
import os
from typing import Any, Dict, List, Optional

import joblib
import numpy as np
import pandas as pd
from pydantic import BaseModel

import bentonb
from bentonb.io import JSON

ONLINE_STORE = {1001: {"conv_rate": 0.1, "acc_rate": 0.2, "avg_daily_trips": 5},
                1002: {"conv_rate": 0.9, "acc_rate": 0.8, "avg_daily_trips": 40},
                1003: {"conv_rate": 0.5, "acc_rate": 0.5, "avg_daily_trips": 20}}


class OnlineResponse:
    def __init__(self, rows):
        self.rows = rows

    def to_dict(self):
        return {k: [r[k] for r in self.rows] for k in self.rows[0]}


class DictFeatureStore:
    """Stands in for feast.FeatureStore: online features from a dict."""

    def get_online_features(self, entity_rows, features):
        names = [f.split(":")[1] for f in features]
        return OnlineResponse([{"driver_id": e["driver_id"],
                                **{n: ONLINE_STORE[e["driver_id"]][n] for n in names}}
                               for e in entity_rows])


model_name = "sklearn-model"
model = joblib.load(os.environ["DRIVER_MODEL_FILE"])
feature_list = ["conv_rate", "acc_rate", "avg_daily_trips"]

bentoml_model = bentonb.sklearn.save_model(
    model_name,
    model,
    signatures={
        "predict": {
            "batchable": False,
        },
    },
    custom_objects={
        "feature_list": feature_list,
    },
)

feature_list = bentoml_model.custom_objects["feature_list"]
bentoml_runner = bentonb.sklearn.get(bentoml_model.tag).to_runner()
svc = bentonb.Service(bentoml_model.tag.name, runners=[bentoml_runner])
fs = DictFeatureStore()


def predict(request: np.ndarray) -> np.ndarray:
    result = bentoml_runner.predict.run(request)
    return result


class InferenceRequest(BaseModel):
    driver_ids: List[int]


class InferenceResponse(BaseModel):
    prediction: Optional[float]
    error: Optional[str]


@svc.api(
    input=JSON(pydantic_model=InferenceRequest),
    output=JSON(pydantic_model=InferenceResponse),
)
def inference(request: InferenceRequest, ctx: bentonb.Context) -> Dict[str, Any]:
    try:
        driver_ids = request.driver_ids
        online_features = fs.get_online_features(
            entity_rows=[{"driver_id": driver_id} for driver_id in driver_ids],
            features=[f"driver_stats:{name}" for name in feature_list],
        )
        df = pd.DataFrame.from_dict(online_features.to_dict())

        input_features = df.drop(["driver_id"], axis=1)
        input_features = input_features[feature_list]

        result = predict(input_features)
        df["prediction"] = result
        best_idx = df["prediction"].argmax()
        best_driver_id = df["driver_id"].iloc[best_idx]

        response = InferenceResponse(prediction=best_driver_id, error=None)
        ctx.response.status_code = 200
    except Exception as e:
        response = InferenceResponse(prediction=None, error=str(e))
        ctx.response.status_code = 500
    return response
'''

BATCH_SERVICE = '''
import time

import numpy as np

import bentonb
from bentonb.io import NumpyNdarray


class SlowDoubler:
    def predict(self, x):
        time.sleep(0.02)  # a model call costs time, so concurrent calls queue up
        return np.asarray(x) * 2


saved = bentonb.picklable_model.save_model(
    "doubler", SlowDoubler(), signatures={"predict": {"batchable": True, "batch_dim": 0}})
runner = bentonb.picklable_model.get("doubler:latest").to_runner()
svc = bentonb.Service("doubler", runners=[runner])


@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
async def double(x: np.ndarray) -> np.ndarray:
    return await runner.predict.async_run(x)


@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
def double_sync(x: np.ndarray) -> np.ndarray:
    return runner.predict.run(x)
'''


@pytest.fixture
def driver_model(tmp_path):
    """A regressor on synthetic driver features whose score grows with them."""
    import joblib
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.random((200, 3)) * [1, 1, 50]
    y = X @ [1.0, 2.0, 0.05]
    file = tmp_path / "driver.joblib"
    joblib.dump(LinearRegression().fit(X, y), file)
    return file


def serve_module(folder: Path, target: str, env: dict | None = None) -> ServeProcess:
    return ServeProcess(target, "--port", "0", env=env, cwd=folder).wait_started(120)


def test_seed_online_serving_served_by_the_cli(tmp_path, driver_model):
    (tmp_path / "bentoml_service.py").write_text(SEED_SERVICE, encoding="utf-8")
    with serve_module(tmp_path, "bentoml_service:svc",
                      {"DRIVER_MODEL_FILE": str(driver_model)}) as server:
        r = requests.post(f"{server.url}/inference", json={"driver_ids": [1001, 1002, 1003]},
                          timeout=30)
        assert r.status_code == 200, r.text
        assert r.json() == {"prediction": 1002.0, "error": None}
        # A wrong shape is a 400 that lists the fields, before the function runs.
        r = requests.post(f"{server.url}/inference", json={"driver": [1]}, timeout=30)
        assert r.status_code == 400
        assert "driver_ids" in r.json()["error"] and "Field required" in r.json()["error"]
        r = requests.post(f"{server.url}/inference", json={"driver_ids": ["x"]}, timeout=30)
        assert r.status_code == 400 and "driver_ids.0" in r.json()["error"]
        # ctx.response.status_code is honoured: an unknown driver is the function's 500.
        r = requests.post(f"{server.url}/inference", json={"driver_ids": [9]}, timeout=30)
        assert r.status_code == 500 and r.json() == {"prediction": None, "error": "9"}
        spec = requests.get(f"{server.url}/docs.json", timeout=30).json()
        from openapi_spec_validator import validate

        validate(spec)
        assert "/inference" in spec["paths"]
        assert requests.get(f"{server.url}/docs", timeout=30).status_code == 200
        assert server.stop() == 0
    assert "bentonb serving sklearn-model at" in server.output


def test_seed_online_serving_in_process(tmp_path, driver_model, monkeypatch, modules):
    monkeypatch.setenv("DRIVER_MODEL_FILE", str(driver_model))
    module = modules.load("seed_service_inproc", SEED_SERVICE)
    api = module.svc.get_inference_api("inference")
    answer = api({"driver_ids": [1003, 1001]})
    assert answer.prediction == 1003.0 and answer.error is None
    ctx = module.bentonb.Context()
    assert api({"driver_ids": [42]}, ctx).error == "42"
    assert ctx.response.status_code == 500
    import bentonb

    stored = bentonb.models.get("sklearn-model:latest")
    assert stored.custom_objects == {"feature_list": FEATURES}
    assert stored.info.signatures == {"predict": {"batchable": False, "batch_dim": 0}}


def _metric(text: str, name: str, api: str) -> float:
    match = re.search(rf'^{name}\{{api="{re.escape(api)}"\}} (\S+)$', text, re.M)
    assert match, f"{name} for {api} not in /metrics"
    return float(match.group(1))


@pytest.mark.parametrize("route", ["double", "double_sync"])
def test_concurrent_calls_share_runner_batches(tmp_path, route):
    (tmp_path / "batch_service.py").write_text(BATCH_SERVICE, encoding="utf-8")
    with serve_module(tmp_path, "batch_service:svc") as server:
        def call(i: int) -> tuple[int, list]:
            r = requests.post(f"{server.url}/{route}", json=[[i, i + 1]], timeout=60)
            assert r.status_code == 200, r.text
            return i, r.json()

        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(call, range(200)))
        assert all(body == [[2 * i, 2 * i + 2]] for i, body in answers)
        text = requests.get(f"{server.url}/metrics", timeout=30).text
        calls = _metric(text, "bentonb_batch_size_count", "doubler.predict")
        items = _metric(text, "bentonb_batch_size_sum", "doubler.predict")
        assert items == 200 and calls < 200, (calls, items)  # some batches held > 1 call
        assert server.stop() == 0


def test_serve_unknown_attribute_says_what_the_module_defines(tmp_path):
    (tmp_path / "batch_service.py").write_text(BATCH_SERVICE, encoding="utf-8")
    process = ServeProcess("batch_service:nope", "--port", "0", cwd=tmp_path)
    code = process.proc.wait(120)
    process._reader.join(10)
    assert code != 0 and "has no attribute 'nope'" in process.output
    assert "svc" in process.output
