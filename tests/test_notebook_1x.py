"""1.x services in the notebook, through a real IPython shell: a ``%%bento_service``
cell defining a ``bentonb.Service`` or a ``@bentonb.service`` class, ``%bento_serve``
with the widget, a re-run cell swapped into the running server, and ``%bento_pack``
saying a 1.x service needs no pack."""

from __future__ import annotations

import json

import pytest
import requests
from IPython.core.error import UsageError

SEED_CELL = '''
import numpy as np
import bentonb
from bentonb.io import JSON, NumpyNdarray

iris_runner = bentonb.sklearn.get("iris_clf:latest").to_runner()
svc = bentonb.Service("iris_1x", runners=[iris_runner])

@svc.api(input=NumpyNdarray(), output=JSON())
def inference(features: np.ndarray) -> dict:
    return {"code": "v0", "species": iris_runner.predict.run(features).tolist()}
'''

CLASS_CELL = '''
import bentonb

@bentonb.service
class Doubler:
    @bentonb.api
    def double(self, value: float) -> dict:
        return {"code": "v0", "double": value * 2}
'''


@pytest.fixture
def shell(store_home, iris_model):
    from IPython.core.interactiveshell import InteractiveShell

    import bentonb
    from bentonb.notebook import handle

    bentonb.sklearn.save_model("iris_clf", iris_model)
    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance(history_length=0, history_load_length=0)
    ip.run_line_magic("load_ext", "bentonb")
    yield ip
    for h in list(handle.RUNNING.values()):
        h.stop()
    InteractiveShell.clear_instance()


def cell(ip, code: str, magic: str | None = None):
    """Run a cell; raise what it raised (UsageErrors included)."""
    result = ip.run_cell(f"%%{magic}\n{code}" if magic else code)
    if result.error_before_exec:
        raise result.error_before_exec
    if result.error_in_exec:
        raise result.error_in_exec
    return result.result


def output_text(output) -> str:
    return "".join(o.get("text", "") for o in output.outputs)


def test_a_service_cell_is_served_with_the_widget_and_swapped_when_rerun(shell, capsys):
    cell(shell, SEED_CELL, "bento_service")
    handle = shell.run_line_magic("bento_serve", "svc --port 0 --no-widget")
    assert "serving iris_1x at " in capsys.readouterr().out
    widget = handle.widget()
    assert widget.api.options == ("inference",)
    widget.body.value = "[[6.7, 3.0, 5.2, 2.3], [5.1, 3.5, 1.4, 0.2]]"
    widget.predict.click()
    widget.wait()
    assert "HTTP 200" in widget.status.value
    assert json.loads(output_text(widget.answer)) == {"code": "v0", "species": [2, 0]}

    port = handle.port
    cell(shell, SEED_CELL.replace('"v0"', '"v1"'), "bento_service")
    out = capsys.readouterr().out
    assert "Live: now serving iris_1x (edited " in out
    answer = requests.post(f"{handle.url}/inference", json=[[5.1, 3.5, 1.4, 0.2]], timeout=10)
    assert answer.json() == {"code": "v1", "species": [0]}
    assert handle.port == port
    assert "Live: now serving iris_1x (edited " in widget.live_note.value
    # / is Swagger UI for a 1.x service, as BentoML 1.x serves it.
    assert 'id="swagger-ui"' in requests.get(f"{handle.url}/", timeout=10).text


def test_a_service_class_cell_is_served_and_swapped_when_rerun(shell, capsys):
    cell(shell, CLASS_CELL, "bento_service")
    from bentonb.bundle.source import capture_source

    assert "@bentonb.service" in capture_source(shell.user_ns["Doubler"]).source
    handle = shell.run_line_magic("bento_serve", "Doubler --port 0 --no-widget")
    assert requests.post(f"{handle.url}/double", json={"value": 4}, timeout=10).json() == \
        {"code": "v0", "double": 8}
    cell(shell, CLASS_CELL.replace('"v0"', '"v1"'), "bento_service")
    assert "Live: now serving Doubler (edited " in capsys.readouterr().out
    assert requests.post(f"{handle.url}/double", json={"value": 4}, timeout=10).json() == \
        {"code": "v1", "double": 8}

    # An __init__ that raises: one line, the previous version keeps serving.
    broken = CLASS_CELL.replace('"v0"', '"v2"').replace(
        "class Doubler:", "class Doubler:\n    def __init__(self):\n"
                          "        raise RuntimeError('model missing')\n")
    with pytest.raises(UsageError) as err:
        cell(shell, broken, "bento_service")
    assert str(err.value) == ("could not build the new Doubler: RuntimeError: model missing "
                              "(still serving the previous version)")
    assert requests.post(f"{handle.url}/double", json={"value": 1}, timeout=10).json() == \
        {"code": "v1", "double": 2}


@pytest.mark.parametrize("name", ["svc", "Doubler"])
def test_bento_pack_on_a_1x_service_says_it_needs_no_pack(shell, name):
    cell(shell, SEED_CELL + CLASS_CELL, "bento_service")
    with pytest.raises(UsageError) as err:
        shell.run_line_magic("bento_pack", f"{name} model=clf")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"'{name}' is a 1.x service: it needs no pack, its models are "
                              "in the model store")
    assert f"%bento_serve {name}" in message


def test_a_cell_without_any_service_is_refused(shell):
    with pytest.raises(UsageError, match="defines no BentoService subclass, bentonb.Service "
                                         "or @bentonb.service class"):
        cell(shell, "x = 1", "bento_service")
