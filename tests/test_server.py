"""The HTTP server: every route, every adapter over HTTP, every error status."""

from __future__ import annotations

import io
import json
import logging
import logging.handlers

import numpy as np
import pytest
import requests
from PIL import Image
from pydantic import BaseModel

import bentonb
from bentonb.adapters import (
    DataframeInput,
    DataframeOutput,
    FileInput,
    ImageInput,
    JsonInput,
    JsonOutput,
    NumpyInput,
    StringInput,
)


class InferenceRequest(BaseModel):
    driver_ids: list[int]


class InferenceResponse(BaseModel):
    prediction: float | None = None
    error: str | None = None


class Everything(bentonb.BentoService):
    """A service with one API per adapter."""

    @bentonb.api(input=DataframeInput())
    def table(self, df):
        """Row sums."""
        return df.sum(axis=1).to_numpy()

    @bentonb.api(input=DataframeInput(columns=["a", "b"]), output=DataframeOutput())
    def frame(self, df):
        return df.assign(total=df["a"] + df["b"])

    @bentonb.api(input=JsonInput(), batch=True)
    def ner(self, items):
        return [{"upper": item["text"].upper()} for item in items]

    @bentonb.api(input=JsonInput(pydantic_model=InferenceRequest),
                 output=JsonOutput(pydantic_model=InferenceResponse))
    def inference(self, request):
        if request.driver_ids == [0]:
            return {"prediction": "not a number"}
        return {"prediction": float(max(request.driver_ids))}

    @bentonb.api(ImageInput)
    def image(self, img):
        return {"shape": list(img.shape), "pixel": img[0, 0].tolist()}

    @bentonb.api(input=FileInput())
    def file(self, stream):
        data = stream.read()
        return {"size": len(data), "name": stream.name}

    @bentonb.api(input=StringInput())
    def text(self, s):
        return s[::-1]

    @bentonb.api(input=NumpyInput(dtype="float64", shape=[-1, 2]))
    def matrix(self, arr):
        return arr.T

    @bentonb.api(input=JsonInput())
    def boom(self, body):
        raise ValueError("secret internals")

    @bentonb.api(input=JsonInput())
    def raw(self, body):
        return b"bytes"


@pytest.fixture
def server(serve):
    return serve(Everything())


def post(server, route, **kwargs):
    return requests.post(f"{server.url}/{route}", timeout=10, **kwargs)


def png(color=(255, 0, 0), size=(4, 3)):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_iris_bundle_over_http(iris_service, serve, iris_model, iris_data):
    server = serve(bentonb.load(iris_service.save()))
    X, _ = iris_data
    response = requests.post(f"{server.url}/predict", json=[[5.1, 3.5, 1.4, 0.2]], timeout=10)
    assert response.status_code == 200 and response.json() == [0]
    response = requests.post(f"{server.url}/predict", json=X.tolist(), timeout=10)
    assert response.json() == iris_model.predict(X).tolist()


@pytest.mark.parametrize("body", [
    [[1, 2], [3, 4]],
    [{"a": 1, "b": 2}, {"a": 3, "b": 4}],
    {"a": [1, 3], "b": [2, 4]},
    {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]},
])
def test_dataframe_json_orients(server, body):
    assert post(server, "table", json=body).json() == [3, 7]


def test_dataframe_csv_and_output(server):
    r = post(server, "table", data=b"a,b\n1,2\n3,4\n", headers={"Content-Type": "text/csv"})
    assert r.json() == [3, 7]
    r = post(server, "frame", json=[{"b": 2, "a": 1}])
    assert r.json() == [{"a": 1, "b": 2, "total": 3}]


def test_json_batch_pydantic_and_get_query(server):
    assert post(server, "ner", json={"text": "I am driving BMW"}).json() == \
        {"upper": "I AM DRIVING BMW"}
    assert requests.get(f"{server.url}/ner", params={"text": "hi"}, timeout=5).json() == \
        {"upper": "HI"}
    assert post(server, "inference", json={"driver_ids": [1001, 1005]}).json() == \
        {"prediction": 1005.0, "error": None}


def test_image_raw_and_multipart(server):
    r = post(server, "image", data=png(), headers={"Content-Type": "image/png"})
    assert r.json() == {"shape": [3, 4, 3], "pixel": [255, 0, 0]}
    r = post(server, "image", files={"image": ("cat.png", png((0, 0, 255)), "image/png")})
    assert r.json() == {"shape": [3, 4, 3], "pixel": [0, 0, 255]}


def test_file_string_numpy(server):
    r = post(server, "file", files={"file": ("data.bin", b"\x00" * 10)})
    assert r.json() == {"size": 10, "name": "data.bin"}
    r = post(server, "file", data=b"abc", headers={"Content-Type": "application/octet-stream"})
    assert r.json() == {"size": 3, "name": "upload"}
    r = post(server, "text", data="xin chào".encode(), headers={"Content-Type": "text/plain"})
    assert r.json() == "oàhc nix"
    assert requests.get(f"{server.url}/text", params={"text": "abc"}, timeout=5).json() == "cba"
    assert post(server, "matrix", json=[[1, 2], [3, 4]]).json() == [[1, 3], [2, 4]]


@pytest.mark.parametrize("route, kwargs, status, message", [
    ("table", {"data": b"[[1, 2],", "headers": {"Content-Type": "application/json"}}, 400,
     "not valid JSON: .* line 1 column 9"),
    ("frame", {"json": [{"a": 1}]}, 400, "missing column.*b"),
    ("image", {"data": b"GIF89a-broken", "headers": {"Content-Type": "image/gif"}}, 400,
     "cannot read image"),
    ("inference", {"json": {"driver_ids": ["x"]}}, 400,
     r"invalid InferenceRequest: driver_ids\.0"),
    ("matrix", {"json": [[1, 2, 3]]}, 400, "expected \\[-1, 2\\]"),
    ("table", {"data": b"<xml/>", "headers": {"Content-Type": "application/xml"}}, 415,
     "does not read Content-Type 'application/xml'"),
    ("image", {"json": [1]}, 415, "does not read Content-Type 'application/json'"),
    ("boom", {"json": {}}, 500, "raised ValueError"),
    ("raw", {"json": {}}, 500, "cannot send bytes"),
    ("inference", {"json": {"driver_ids": [0]}}, 500, "invalid InferenceResponse"),
    ("nowhere", {"json": {}}, 404, "no API at /nowhere"),
])
def test_error_statuses_are_json_with_request_id(server, route, kwargs, status, message):
    import re

    r = post(server, route, **kwargs)
    assert r.status_code == status
    body = r.json()
    assert re.search(message, body["error"]), body
    assert body["request_id"] == r.headers["X-Request-Id"]


def test_500_does_not_leak_the_traceback_but_logs_it(server, caplog):
    with caplog.at_level(logging.ERROR, logger="bentonb.prediction"):
        r = post(server, "boom", json={})
    assert r.status_code == 500 and "secret internals" not in r.text
    assert any("secret internals" in (rec.exc_text or "") or
               (rec.exc_info and "secret internals" in str(rec.exc_info[1]))
               for rec in caplog.records)


def test_405_and_get_on_post_only_api(server):
    r = requests.put(f"{server.url}/table", data=b"x", timeout=5)
    assert r.status_code == 405 and "use POST" in r.json()["error"]
    r = requests.get(f"{server.url}/image", timeout=5)
    assert r.status_code == 405 and "takes POST" in r.json()["error"]
    r = requests.post(f"{server.url}/healthz", timeout=5)
    assert r.status_code == 405 and "use GET" in r.json()["error"]


def test_413_is_checked_before_the_body_is_read(serve):
    server = serve(Everything(), max_request_size=1024)
    r = requests.post(f"{server.url}/text", data=b"x" * 5000,
                      headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 413 and "larger than the server accepts" in r.json()["error"]

    def chunks():
        for _ in range(10):
            yield b"y" * 500

    r = requests.post(f"{server.url}/text", data=chunks(), headers={"Content-Type":
                                                                   "text/plain"}, timeout=5)
    assert r.status_code == 413
    ok = requests.post(f"{server.url}/text", data=b"small", timeout=5,
                       headers={"Content-Type": "text/plain"})
    assert ok.json() == "llams"


def test_request_id_is_echoed_or_made(server):
    r = post(server, "text", data=b"a", headers={"X-Request-Id": "abc-123",
                                                 "Content-Type": "text/plain"})
    assert r.headers["X-Request-Id"] == "abc-123"
    ids = {requests.get(f"{server.url}/healthz", timeout=5).headers["X-Request-Id"]
           for _ in range(5)}
    assert len(ids) == 5 and all(len(i) >= 16 for i in ids)


def test_infra_routes(server):
    from openapi_spec_validator import validate

    assert requests.get(f"{server.url}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{server.url}/livez", timeout=5).status_code == 200
    assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
    spec = requests.get(f"{server.url}/docs.json", timeout=5).json()
    validate(spec)
    assert set(spec["paths"]) >= {"/table", "/image", "/inference", "/healthz"}
    schema = spec["paths"]["/inference"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert schema["properties"]["driver_ids"]["type"] == "array"
    docs = requests.get(f"{server.url}/docs", timeout=5)
    assert "swagger-ui-bundle.js" in docs.text and "docs.json" in docs.text
    asset = requests.get(f"{server.url}/docs/static/swagger-ui-bundle.js", timeout=5)
    assert asset.status_code == 200 and len(asset.content) > 100_000
    meta = requests.get(f"{server.url}/metadata", timeout=5).json()
    assert meta["name"] == "Everything" and "table" in [a["name"] for a in meta["apis"]]
    index = requests.get(f"{server.url}/", timeout=5)
    assert index.headers["Content-Type"].startswith("text/html")
    assert "POST /table" in index.text and "<script" in index.text and "http" not in \
        index.text.split("<script>")[1]


def test_metrics_count_requests_batches_and_latency(server):
    for _ in range(3):
        post(server, "table", json=[[1, 2]])
    post(server, "table", data=b"[", headers={"Content-Type": "application/json"})
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    assert 'bentonb_requests_total{api="table",status="200"} 3.0' in text
    assert 'bentonb_requests_total{api="table",status="400"} 1.0' in text
    assert 'bentonb_request_duration_seconds_count{api="table"} 4.0' in text
    assert 'bentonb_batch_size_count{api="table"} 3.0' in text
    assert "bentonb_queue_depth" in text and "bentonb_rejected_total" in text


def test_saved_bundle_metadata_is_the_manifest(iris_service, serve):
    server = serve(bentonb.load(iris_service.save(labels={"team": "ml"})))
    meta = requests.get(f"{server.url}/metadata", timeout=5).json()
    assert meta["version"] == iris_service.version and meta["labels"] == {"team": "ml"}
    assert meta["artifacts"][0]["type"] == "SklearnModelArtifact"


def test_api_key_protects_prediction_routes_only(serve):
    server = serve(Everything(), api_key="s3cret")
    r = requests.post(f"{server.url}/text", data=b"ab", timeout=5)
    assert r.status_code == 401 and "API key" in r.json()["error"]
    r = requests.post(f"{server.url}/text", data=b"ab", timeout=5,
                      headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = requests.post(f"{server.url}/text", data=b"ab", timeout=5,
                      headers={"Authorization": "Bearer s3cret", "Content-Type": "text/plain"})
    assert r.json() == "ba"
    r = requests.post(f"{server.url}/text", data=b"ab", timeout=5,
                      headers={"X-API-Key": "s3cret", "Content-Type": "text/plain"})
    assert r.json() == "ba"
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_port_in_use_is_a_clear_error(serve):
    first = serve(Everything())
    from bentonb.errors import BentonbError
    from bentonb.server.app import ServerConfig
    from bentonb.server.thread import BackgroundServer

    with pytest.raises(BentonbError, match=f"port {first.port} .* already in use"):
        BackgroundServer(Everything(), ServerConfig(port=first.port))


def test_stop_frees_the_port_and_json_arrays_round_trip(serve):
    server = serve(Everything())
    port = server.port
    assert post(server, "matrix", json=np.eye(2).tolist()).json() == [[1, 0], [0, 1]]
    server.stop()
    from bentonb.server.app import ServerConfig
    from bentonb.server.thread import BackgroundServer

    again = BackgroundServer(Everything(), ServerConfig(port=port))
    try:
        assert requests.get(f"{again.url}/healthz", timeout=5).status_code == 200
    finally:
        again.stop()


def test_json_log_format(capfd):
    from bentonb.server.logs import ACCESS, configure_logging, flush_logs

    configure_logging("json")
    try:
        ACCESS.info("GET / 200", extra={"status": 200, "request_id": "r1"})
        flush_logs()
        line = capfd.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["logger"] == "bentonb.access" and record["status"] == 200
        assert record["request_id"] == "r1" and record["message"] == "GET / 200"
    finally:
        logging.getLogger("bentonb").handlers.clear()
        logging.getLogger("bentonb").propagate = True


def test_access_lines_are_written_in_order_and_reach_handlers_added_later(capfd):
    from bentonb.server import logs
    from bentonb.server.logs import ACCESS, access_entry, configure_logging, flush_logs

    configure_logging("text")
    stream = logs._output[0].stream
    writes = []

    class Counted:
        def write(self, text):
            writes.append(text)
            return stream.write(text)

        def flush(self):
            stream.flush()

    logs._output[0].stream = Counted()
    added = logging.handlers.BufferingHandler(100)
    try:
        for status in (200, 400, 503):
            access_entry("POST", "/predict?x=1", status, 1.25, "127.0.0.1", f"r{status}")
        flush_logs()
        lines = capfd.readouterr().err.strip().splitlines()
        assert [line.split(" INFO ", 1)[1] for line in lines] == [
            f"bentonb.access POST /predict?x=1 {s} 1.2ms" for s in (200, 400, 503)]
        assert len(writes) == 1  # the batch in one piece
        ACCESS.addHandler(added)  # an operator's own handler: lines go through logging
        access_entry("GET", "/readyz", 200, 0.5, None, "r4")
        flush_logs()
        assert [(r.getMessage(), r.request_id, r.path) for r in added.buffer] == [
            ("GET /readyz 200 0.5ms", "r4", "/readyz")]
        assert capfd.readouterr().err.strip().endswith("bentonb.access GET /readyz 200 0.5ms")
    finally:
        logs._output[0].stream = stream
        ACCESS.removeHandler(added)
        logging.getLogger("bentonb").handlers.clear()
        logging.getLogger("bentonb").propagate = True


def test_a_refused_request_is_one_bounded_warning_line_whatever_the_message():
    from bentonb.errors import BadInput
    from bentonb.server.logs import ONE_LINE_CHARS, PREDICTION, log_call

    seen = logging.handlers.BufferingHandler(10)
    PREDICTION.addHandler(seen)
    try:
        error = BadInput("column 'a'\r\nFAKE 200 line")
        error.__cause__ = ValueError("x" * 5000 + "\nmore")
        log_call("predict", ["r1"], 1, 0.001, [(False, error)])
    finally:
        PREDICTION.removeHandler(seen)
    [record] = [r for r in seen.buffer if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert "\n" not in message and "\r" not in message and record.exc_info is None
    assert message.startswith("predict refused request r1 (400): column 'a'\\r\\nFAKE 200 line"
                              " (the API raised ValueError: xxx")
    assert len(message) < 2 * ONE_LINE_CHARS
