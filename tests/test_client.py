"""``bentonb.Client`` and ``bentonb.AsyncClient`` against real servers: in-process and
``bentonb serve``, with an API key, every input kind, errors, 503 retries."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ServeProcess, wait_until

import bentonb
from bentonb.errors import NotFound, ServerError

KEY = "s3cret-key"

CLIENT_SERVICE = '''
import threading

import pydantic

import bentonb
from bentonb.adapters import FileInput, ImageInput, JsonInput, StringInput
from bentonb.errors import BadInput

HOLD = threading.Event()     # set by the test: the held call may finish
HELD = threading.Event()     # set by the service: the held call is running


class Flower(pydantic.BaseModel):
    petal_length: float
    name: str = "iris"


class ClientDemo(bentonb.BentoService):
    @bentonb.api(input=JsonInput(pydantic_model=Flower))
    def describe(self, flower):
        return {"name": flower.name.upper(), "double": flower.petal_length * 2}

    @bentonb.api(input=ImageInput())
    def shape(self, image):
        return {"shape": list(image.shape), "first": image[0, 0].tolist()}

    @bentonb.api(input=FileInput())
    def size(self, stream):
        return {"name": stream.name, "bytes": len(stream.read())}

    @bentonb.api(input=StringInput())
    def shout(self, text):
        return text.upper() + "!"

    @bentonb.api(input=JsonInput())
    def picky(self, body):
        if "x" not in body:
            raise BadInput("picky needs a field 'x'")
        return body["x"] + 1

    @bentonb.api(input=JsonInput())
    def held(self, body):
        HELD.set()
        HOLD.wait(30)
        return "released"
'''


@pytest.fixture
def demo(modules):
    return modules.load("client_demo", CLIENT_SERVICE)


@pytest.fixture
def png(tmp_path) -> Path:
    from PIL import Image

    path = tmp_path / "red.png"
    Image.new("RGB", (7, 5), (255, 0, 0)).save(path)
    return path


def test_iris_dataframe_api_in_process_with_key(iris_service, iris_model, iris_data, serve):
    server = serve(iris_service, api_key=KEY)
    X = iris_data[0][[0, 60, 120]]
    want = iris_model.predict(X).tolist()
    df = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    with bentonb.Client(server.url, api_key=KEY) as client:
        assert sorted(client.apis) == ["predict"]
        assert client.predict(df) == want
        assert client.call("predict", X) == want  # numpy -> JSON rows
        assert client.call("predict", df.to_csv(index=False)) == want  # CSV text
        with pytest.raises(NotFound, match="no API 'predikt'.*did you mean 'predict'"):
            client.call("predikt", df)
    with bentonb.Client(server.url) as keyless:
        with pytest.raises(ServerError) as err:
            keyless.predict(df)
    assert err.value.status == 401 and "missing or wrong API key" in str(err.value)
    assert err.value.request_id and '"error"' in err.value.body


def test_iris_through_bentonb_serve(iris_service, iris_model, iris_data):
    iris_service.save()
    X = iris_data[0][:10]
    with ServeProcess("IrisClassifier:latest", "--port", "0", "--api-key", KEY) as proc:
        proc.wait_started()
        with bentonb.Client(proc.url, api_key=KEY) as client:
            assert client.predict(pd.DataFrame(X)) == iris_model.predict(X).tolist()
        proc.stop()


def test_json_image_file_and_text_apis(demo, serve, png, tmp_path):
    from PIL import Image

    server = serve(demo.ClientDemo())
    with bentonb.Client(server.url) as client:
        assert client.describe(demo.Flower(petal_length=1.5, name="setosa")) == \
            {"name": "SETOSA", "double": 3.0}
        assert client.describe({"petal_length": 2}) == {"name": "IRIS", "double": 4.0}
        red = {"shape": [5, 7, 3], "first": [255, 0, 0]}
        assert client.shape(png) == red  # a path
        assert client.shape(str(png)) == red
        assert client.shape(png.read_bytes()) == red
        assert client.shape(Image.new("RGB", (2, 3), (0, 0, 255))) == \
            {"shape": [3, 2, 3], "first": [0, 0, 255]}  # a PIL image
        assert client.shape(np.zeros((4, 4, 3), dtype=np.uint8))["shape"] == [4, 4, 3]
        data = tmp_path / "notes.bin"
        data.write_bytes(b"\x00\x01" * 50)
        assert client.size(data) == {"name": "notes.bin", "bytes": 100}
        assert client.size(b"abc") == {"name": "upload", "bytes": 3}
        assert client.shout("héllo") == "HÉLLO!"


def test_error_answers_raise_server_error_with_the_message(demo, serve):
    server = serve(demo.ClientDemo())
    with bentonb.Client(server.url) as client:
        with pytest.raises(ServerError) as err:
            client.picky({"y": 1})
        assert err.value.status == 400
        assert "picky needs a field 'x'" in str(err.value)
        with pytest.raises(ServerError) as err:
            client.describe({"petal_length": "long"})
        assert err.value.status == 400 and "petal_length" in str(err.value)
        with pytest.raises(AttributeError, match="no API 'nope'"):
            client.nope  # noqa: B018


def test_503_is_retried_after_retry_after(demo, serve):
    server = serve(demo.ClientDemo(), max_queue=0, max_concurrency=1)
    demo.HOLD.clear()
    demo.HELD.clear()
    with bentonb.Client(server.url) as first, bentonb.Client(server.url) as second:
        results: dict[str, object] = {}
        holder = threading.Thread(target=lambda: results.update(a=first.held({})))
        holder.start()
        assert demo.HELD.wait(10)
        caller = threading.Thread(target=lambda: results.update(b=second.held({})))
        caller.start()

        def rejected() -> bool:
            return 'bentonb_rejected_total{api="held"} 1.0' in server.state.metrics.render() \
                .decode()
        wait_until(rejected, 10, message="the second call to be refused with 503")
        demo.HOLD.set()
        holder.join(10)
        caller.join(10)
    assert results == {"a": "released", "b": "released"}  # the refused call was retried


def test_503_gives_up_after_max_retries(demo, serve):
    server = serve(demo.ClientDemo(), max_queue=0, max_concurrency=1)
    demo.HOLD.clear()
    demo.HELD.clear()
    with bentonb.Client(server.url) as first, \
            bentonb.Client(server.url, max_retries=0) as second:
        holder = threading.Thread(target=first.held, args=({},))
        holder.start()
        assert demo.HELD.wait(10)
        with pytest.raises(ServerError) as err:
            second.held({})
        demo.HOLD.set()
        holder.join(10)
    assert err.value.status == 503 and "--max-queue" in str(err.value)


def test_async_client_gathers_20_calls(iris_service, iris_model, iris_data, serve):
    server = serve(iris_service, api_key=KEY)
    X = iris_data[0]

    async def main() -> list:
        async with bentonb.AsyncClient(server.url, api_key=KEY) as client:
            return await asyncio.gather(*(client.predict(pd.DataFrame(X[i:i + 3]))
                                          for i in range(0, 60, 3)))

    answers = asyncio.run(main())
    assert len(answers) == 20
    assert answers == [iris_model.predict(X[i:i + 3]).tolist() for i in range(0, 60, 3)]
