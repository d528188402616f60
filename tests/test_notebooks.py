"""The notebooks in notebooks/ run top to bottom in a real kernel, and say what they should."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(name: str, workdir: Path) -> list[str]:
    """Run a notebook; return each code cell's text outputs (widgets as a marker)."""
    shutil.copy(NOTEBOOKS / name, workdir / name)
    nb = nbformat.read(workdir / name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        # A print may arrive as several stream messages, even around another stream's:
        # each stream's text is kept whole, in order.
        streams: dict[str, str] = {}
        parts = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                streams[output.name] = streams.get(output.name, "") + output.text
            elif output.output_type in ("execute_result", "display_data"):
                data = output.get("data", {})
                if "application/vnd.jupyter.widget-view+json" in data:
                    parts.append("<widget>")
                parts.append(data.get("text/plain", ""))
            elif output.output_type == "error":
                parts.append(f"ERROR {output.ename}: {output.evalue}")
        parts = list(streams.values()) + parts
        texts.append("\n".join(parts))
    return texts


@pytest.fixture
def workdir(tmp_path, store_home, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    return tmp_path


def find(texts: list[str], needle: str) -> str:
    for text in texts:
        if needle in text:
            return text
    raise AssertionError(f"no output contains {needle!r}:\n" + "\n---\n".join(texts))


@pytest.mark.notebook
def test_01_iris_quickstart(workdir):
    texts = execute("01_iris_quickstart.ipynb", workdir)
    assert not any("ERROR" in t for t in texts), texts
    assert find(texts, "saved IrisClassifier:").strip().endswith("array([0])")
    assert "{'stage': 'demo'} [2]" in find(texts, "{'stage': 'demo'}")
    serve_out = find(texts, "serving IrisClassifier:")
    assert "<widget>" in serve_out and "curl -X POST" in serve_out
    assert find(texts, "200 [0]").strip() == "200 [0]"
    assert any(t.startswith("[2]\n") for t in texts)
    assert "IrisClassifier:" in find(texts, "TAG") and find(texts, "TAG").strip().endswith("[0]")


@pytest.mark.notebook
@pytest.mark.slow
def test_02_spacy_ner(workdir):
    texts = execute("02_spacy_ner.ipynb", workdir)
    assert not any("ERROR" in t for t in texts), texts
    answer = json.loads(find(texts, '"entity"').strip())
    assert {"entity": "Flipkart", "label": "ORG"} in answer
    count = int(find(texts, "sentences have entities").split()[0])
    assert count >= 15
    assert "<widget>" in find(texts, "serving SpacyNERService:")


@pytest.mark.notebook
@pytest.mark.slow
def test_03_pytorch_cifar10(workdir):
    texts = execute("03_pytorch_cifar10.ipynb", workdir)
    assert not any("ERROR" in t for t in texts), texts
    # The tutorial's API takes one image and answers a list of one class name.
    expected = find(texts, "in process:").split("in process:")[1].strip()
    labels = json.loads(expected.replace("'", '"'))
    assert len(labels) == 1
    assert f"over HTTP: {expected}" in find(texts, "over HTTP:")
    assert f"multipart: {expected}" in find(texts, "multipart:")
    assert any(t.strip() == json.dumps(labels) for t in texts)  # bentonb run
    assert "INFO - BentoService bundle 'PytorchImageClassifier:" in find(texts,
                                                                         "Finished Training:")


@pytest.mark.notebook
@pytest.mark.slow
def test_04_online_and_batch_serving(workdir):
    texts = execute("04_online_and_batch_serving.ipynb", workdir)
    assert not any("ERROR" in t for t in texts), texts
    answer = find(texts, "'best_driver_id'")
    assert "'prediction': 0." in answer and "'error': None" in answer
    assert "400 invalid InferenceRequest: driver_ids.0" in find(texts, "400 invalid")
    assert "['driver_ids']" in find(texts, "['driver_ids']")
    assert "100 rows; same as in process: True" in find(texts, "100 rows")
    assert "driver_id  prediction" in find(texts, "driver_id  prediction")


@pytest.mark.notebook
@pytest.mark.slow
def test_06_live_serving(workdir):
    texts = execute("06_live_serving.ipynb", workdir)
    assert not any("ERROR" in t for t in texts), texts
    assert "<widget>" in find(texts, "serving IrisClassifier:")
    assert find(texts, "before the edit:").strip() == "before the edit: [0]"
    swap = find(texts, "Live: now serving")
    assert re.search(r"Live: now serving IrisClassifier \(edited \d\d:\d\d:\d\d\) at "
                     r"http://127\.0\.0\.1:\d+", swap), swap
    after = find(texts, "after the edit:")
    assert "after the edit: ['setosa']" in after
    assert "APIs: ['about', 'predict']" in after
    assert "about: {'classes': ['setosa', 'versicolor', 'virginica']}" in after
    bench = find(texts, "IrisClassifier /predict: 1 s per point")
    assert "req_per_s" in bench and "p99_ms" in bench
    assert find(texts, "errors:").strip() == "errors: 0 | throughput above zero: True"
    assert find(texts, "stopped").strip() == "stopped IrisClassifier"


def test_05_bentoml_1x_online_serving(workdir, store_home):
    texts = execute("05_bentoml_1x_online_serving.ipynb", workdir)
    assert not any("ERROR" in t for t in texts), texts
    assert find(texts, "serving sklearn-model at http://127.0.0.1:")
    assert "best: 200 {'prediction': 1002.0, 'error': None}" in find(texts, "best:")
    assert "bad: 400" in find(texts, "bad:") and "driver_ids.0" in find(texts, "bad:")
    assert "Successfully built sklearn-model:nb1" in find(texts, "Successfully built")
    assert "prediction=1003.0" in find(texts, "from the bundle:")
    assert (store_home / "repository" / "sklearn-model" / "nb1" / "sklearn_model" / "src"
            / "service.py").is_file()


def test_notebooks_exist_for_each_tutorial():
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == ["01_iris_quickstart.ipynb", "02_spacy_ner.ipynb",
                     "03_pytorch_cifar10.ipynb", "04_online_and_batch_serving.ipynb",
                     "05_bentoml_1x_online_serving.ipynb",
                     "06_live_serving.ipynb"]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert "%load_ext bentonb" in nb.cells[1].source
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert os.access(NOTEBOOKS.parent / "binder" / "postBuild", os.X_OK)
