"""What the notebook shows while work is under way: ``%bento_bench``'s plot, a
streaming API's items growing in the widget's answer area, and the Containerize
button's build log line by line. Driven through a real IPython shell and real HTTP."""

from __future__ import annotations

import base64
import io
import json
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest
from helpers import wait_until

IRIS_CELL = '''
import bentonb
from bentonb.adapters import DataframeInput
from bentonb.artifact import SklearnModelArtifact

@bentonb.artifacts([SklearnModelArtifact('model')])
class IrisClassifier(bentonb.BentoService):
    @bentonb.api(input=DataframeInput(), batch=True)
    def predict(self, df):
        return self.artifacts.model.predict(df)
'''

# GATE is a threading.Event the test puts in the shell's namespace: `talk` yields its
# first item, then waits until the test has seen that item in the widget.
TALKER_CELL = '''
import bentonb
from bentonb.adapters import JsonInput

class Talker(bentonb.BentoService):
    @bentonb.api(input=JsonInput())
    def talk(self, body):
        yield {"n": 1, "word": "first"}
        if not GATE.wait(30):
            raise RuntimeError("the widget never showed the first item")
        for n, word in enumerate(body["then"], start=2):
            yield {"n": n, "word": word}

    @bentonb.api(input=JsonInput())
    def broken(self, body):
        yield "one"
        raise ValueError("ran out of tokens")

    @bentonb.api(input=JsonInput())
    def whole(self, body):
        return {"not": "streamed"}
'''


@pytest.fixture
def shell(iris_model):
    from IPython.core.interactiveshell import InteractiveShell

    from bentonb.notebook import handle

    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance(history_length=0, history_load_length=0)
    ip.run_line_magic("load_ext", "bentonb")
    ip.user_ns["clf"] = iris_model
    yield ip
    for h in list(handle.RUNNING.values()):
        h.stop()
    InteractiveShell.clear_instance()


def cell(ip, code: str, magic: str | None = None):
    result = ip.run_cell(f"%%{magic}\n{code}" if magic else code)
    if result.error_before_exec:
        raise result.error_before_exec
    if result.error_in_exec:
        raise result.error_in_exec
    return result.result


def output_text(output) -> str:
    return "".join(o.get("text", "") for o in output.outputs)


# -- %bento_bench's plot ----------------------------------------------------------------

def test_bento_bench_shows_a_png_plot_of_throughput_and_latency(shell, monkeypatch):
    from IPython.utils.capture import capture_output
    from PIL import Image

    monkeypatch.setenv("MPLBACKEND", "Agg")  # no display here; the plot never needs one
    cell(shell, IRIS_CELL, "bento_service")
    cell(shell, "svc = IrisClassifier().pack('model', clf)")
    shell.run_line_magic("bento_serve", "svc --port 0 --no-widget")
    with capture_output() as captured:
        frame = shell.run_line_magic("bento_bench", "IrisClassifier --concurrency 1,4 "
                                                    "--duration 0.5")
    assert list(frame.index) == [1, 4] and (frame["requests"] > 0).all()
    assert "req_per_s" in captured.stdout
    pngs = [o.data["image/png"] for o in captured.outputs if "image/png" in o.data]
    assert len(pngs) == 1
    png = pngs[0] if isinstance(pngs[0], bytes) else base64.b64decode(pngs[0])
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (800, 300)  # Figure(figsize=(8, 3)) at 100 dpi
    # Two panels of lines and text on white: many colours, not a blank canvas.
    colors = image.convert("RGB").getcolors(maxcolors=800 * 300)
    assert len(colors) > 20


# -- streaming answers ------------------------------------------------------------------

@pytest.fixture
def talker(shell):
    gate = threading.Event()
    shell.user_ns["GATE"] = gate
    cell(shell, TALKER_CELL, "bento_service")
    cell(shell, "talker = Talker()")
    handle = shell.run_line_magic("bento_serve", "talker --port 0 --no-widget")
    return handle, gate


def test_widget_shows_a_streaming_answer_growing_item_by_item(talker):
    handle, gate = talker
    widget = handle.widget()
    widget.api.value = "talk"
    widget.body.value = json.dumps({"then": ["second", "third", "fourth"]})
    widget.predict.click()
    # The first item is on screen while the API function still waits for the test.
    wait_until(lambda: '"first"' in output_text(widget.answer), 15,
               message=lambda: f"the first item; answer so far {output_text(widget.answer)!r}")
    assert "second" not in output_text(widget.answer)
    assert "streaming: 1 items" in widget.status.value
    assert widget.threads[-1].is_alive()
    gate.set()
    widget.wait()
    items = [json.loads(line) for line in output_text(widget.answer).splitlines()]
    assert items == [{"n": 1, "word": "first"}, {"n": 2, "word": "second"},
                     {"n": 3, "word": "third"}, {"n": 4, "word": "fourth"}]
    assert "4 items streamed" in widget.status.value and "HTTP 200" in widget.status.value


def test_widget_shows_an_error_that_ends_a_stream_and_plain_answers_as_before(talker):
    handle, gate = talker
    widget = handle.widget()
    widget.api.value = "broken"
    widget.body.value = "{}"
    widget.predict.click()
    widget.wait()
    first, error = output_text(widget.answer).splitlines()
    assert first == '"one"'
    assert error.startswith("error: ") and "ValueError: ran out of tokens" in error
    assert "the stream ended with an error" in widget.status.value
    assert "after 1 items" in widget.status.value

    widget.api.value = "whole"
    widget.body.value = "{}"
    widget.predict.click()
    widget.wait()
    assert json.loads(output_text(widget.answer)) == {"not": "streamed"}
    assert "HTTP 200" in widget.status.value and "streamed" not in widget.status.value


def test_stream_events_reads_json_lines_from_the_server_as_they_come(talker):
    from bentonb.notebook.widget import stream_events

    handle, gate = talker
    gate.set()
    request = urllib.request.Request(f"{handle.url}/talk", data=b'{"then": ["b"]}',
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.headers["Content-Type"].startswith("application/x-ndjson")
        events = list(stream_events(response, sse=False))
    assert events == [("message", '{"n":1,"word":"first"}'), ("message", '{"n":2,"word":"b"}')]
    request = urllib.request.Request(f"{handle.url}/broken", data=b"{}",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        kinds = [kind for kind, _ in stream_events(response, sse=False)]
    assert kinds == ["message", "error"]


# -- the Containerize button's log ------------------------------------------------------

@pytest.fixture
def saved_iris(shell):
    cell(shell, IRIS_CELL, "bento_service")
    shell.run_line_magic("bento_pack", "IrisClassifier model=clf")
    return shell.run_line_magic("bento_serve", "IrisClassifier:latest --port 0 --no-widget")


def test_containerize_without_an_engine_shows_the_context_and_the_build_command(
        saved_iris, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    widget = saved_iris.widget()
    widget.containerize.click()
    widget.wait()
    lines = output_text(widget.log).splitlines()
    version = saved_iris.service.version
    assert lines[0] == f"containerizing IrisClassifier:{version} ..."
    assert lines[1].startswith("wrote the build context to ")
    context = Path(lines[1].removeprefix("wrote the build context to "))
    assert "no container engine is reachable" in lines[2]
    assert f"docker build -t irisclassifier:{version.lower()} -t irisclassifier:latest " \
           f"{context}" in lines[2]
    assert (context / "Dockerfile").is_file() and (context / "bento.yaml").is_file()
    assert not widget.containerize.disabled
    shutil.rmtree(context)  # kept for the user to build elsewhere; not for the test


def test_containerize_shows_each_build_line_as_it_comes(saved_iris, monkeypatch):
    import bentonb.container
    from bentonb.container import BuiltImage

    step_two = threading.Event()
    calls = []

    def fake_containerize(bundle, log=print, **options):
        calls.append((Path(bundle), options))
        log("STEP 1/3: FROM python:3.11-slim")
        if not step_two.wait(30):
            raise RuntimeError("the widget never showed the first line")
        log("STEP 2/3: COPY . /bundle")
        log("STEP 3/3: RUN pip install -r requirements.txt")
        return BuiltImage("irisclassifier:test", Path(bundle))

    monkeypatch.setattr(bentonb.container, "containerize", fake_containerize)
    widget = saved_iris.widget()
    widget.containerize.click()
    wait_until(lambda: "STEP 1/3" in output_text(widget.log), 15,
               message=lambda: f"the first line; log so far {output_text(widget.log)!r}")
    assert "STEP 2/3" not in output_text(widget.log)
    assert widget.containerize.disabled  # one build at a time
    step_two.set()
    widget.wait()
    assert output_text(widget.log).splitlines()[1:] == [
        "STEP 1/3: FROM python:3.11-slim", "STEP 2/3: COPY . /bundle",
        "STEP 3/3: RUN pip install -r requirements.txt",
        "done: docker run -p 5000:5000 irisclassifier:test"]
    assert calls == [(saved_iris.service.bundle_path, {})]
    assert not widget.containerize.disabled
