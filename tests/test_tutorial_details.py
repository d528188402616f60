"""Details the tutorials show, checked as their users would meet them: a CSV with a
numeric header, the save message, the curl commands, ``get``/``info``, ..."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml

import bentonb
from bentonb.errors import InvalidArgument

IRIS_CSV = b"0,1,2,3\n5.1,3.5,1.4,0.2\n6.2,3.4,5.4,2.3"


def test_csv_with_a_numeric_header_is_read_with_that_header(iris_service, serve):
    server = serve(iris_service)
    answer = requests.post(f"{server.url}/predict", data=IRIS_CSV,
                           headers={"Content-Type": "text/csv"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == [0, 2]


SAVE_SCRIPT = '''
import sys
from sklearn import datasets, svm
sys.path.insert(0, ".")
from iris_classifier import IrisClassifier

iris = datasets.load_iris()
clf = svm.SVC(gamma="scale").fit(iris.data, iris.target)
print(IrisClassifier().pack("model", clf).save())
'''


def test_save_says_where_the_bundle_went_without_any_logging_setup(tmp_path, store_home):
    from tests.conftest import IRIS_SERVICE

    (tmp_path / "iris_classifier.py").write_text(IRIS_SERVICE, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", SAVE_SCRIPT], cwd=tmp_path, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    path = done.stdout.strip()
    line = re.search(r"^\[[\d\- :,]+\] INFO - BentoService bundle 'IrisClassifier:(\S+)' "
                     r"saved to: (.+)$", done.stderr, re.M)
    assert line, done.stderr
    assert line.group(2) == path
    assert Path(path) == store_home / "repository" / "IrisClassifier" / line.group(1)
    assert (Path(path) / "bento.yaml").is_file()


@pytest.mark.parametrize("url", ["s3://my-bucket/bentos", "gs://bucket/x",
                                 "http://example.com/store"])
def test_save_to_a_remote_store_is_refused_and_writes_nothing(iris_service, tmp_path,
                                                              monkeypatch, url):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(InvalidArgument, match="remote stores are not supported"):
        iris_service.save(base_path=url)
    with pytest.raises(InvalidArgument, match="remote stores are not supported"):
        iris_service.save_to_dir(url)
    assert list(work.iterdir()) == []
    assert iris_service.version is None


def test_save_to_a_local_base_path(iris_service, tmp_path):
    path = Path(iris_service.save(base_path=str(tmp_path / "store")))
    assert path.parent.parent == tmp_path / "store" / "repository"
    assert bentonb.load(path).predict([[5.1, 3.5, 1.4, 0.2]]).tolist() == [0]


STATIC_SERVICE = '''
import pandas as pd

import bentonb
from bentonb.adapters import DataframeInput
from bentonb.artifact import SklearnModelArtifact


@bentonb.env(infer_pip_packages=True)
@bentonb.artifacts([SklearnModelArtifact('model')])
@bentonb.web_static_content('./static')
class IrisWithPage(bentonb.BentoService):
    @bentonb.api(input=DataframeInput(), batch=True)
    def predict(self, df: pd.DataFrame):
        return self.artifacts.model.predict(df)
'''


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (requests would normalise ``..`` away)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_web_static_content_is_bundled_and_served_at_the_root(modules, iris_model, serve,
                                                               tmp_path, monkeypatch):
    project = modules.folder
    (project / "static" / "css").mkdir(parents=True)
    (project / "static" / "index.html").write_text("<h1>My iris page</h1>", encoding="utf-8")
    (project / "static" / "style.css").write_text("h1 {color: red}", encoding="utf-8")
    (project / "static" / "css" / "more.css").write_text("p {}", encoding="utf-8")
    monkeypatch.chdir(project)
    cls = modules.load("iris_with_page", STATIC_SERVICE).IrisWithPage
    path = Path(cls().pack("model", iris_model).save())

    copy = path / "IrisWithPage" / "web_static_content"
    assert (copy / "index.html").read_text(encoding="utf-8") == "<h1>My iris page</h1>"
    assert (copy / "css" / "more.css").is_file()
    assert yaml.safe_load((path / "bento.yaml").read_text())["web_static_content"] == \
        "web_static_content"
    # The bundle serves its own copy, wherever it runs from.
    (project / "static" / "index.html").write_text("changed after save", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    service = bentonb.load(path)
    assert service.web_static_dir == copy.resolve()
    server = serve(service)

    page = requests.get(f"{server.url}/", timeout=10)
    assert page.status_code == 200 and page.text == "<h1>My iris page</h1>"
    css = requests.get(f"{server.url}/style.css", timeout=10)
    assert css.status_code == 200 and css.text == "h1 {color: red}"
    assert "text/css" in css.headers["Content-Type"]
    assert requests.get(f"{server.url}/css/more.css", timeout=10).text == "p {}"
    answer = requests.post(f"{server.url}/predict", json=[[5.1, 3.5, 1.4, 0.2]], timeout=10)
    assert answer.status_code == 200 and answer.json() == [0]
    docs = requests.get(f"{server.url}/docs", timeout=10)
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    assert requests.get(f"{server.url}/healthz", timeout=10).json() == {"status": "ok"}
    missing = requests.get(f"{server.url}/nope.js", timeout=10)
    assert missing.status_code == 404 and "error" in missing.json()
    for sneaky in ("/../bento.yaml", "/%2e%2e/bento.yaml", "/%2e%2e%2fbento.yaml",
                   "/css/..%2f..%2fbento.yaml", "/..%2f..%2fbento.yaml"):
        status, body = raw_get(server.url, sneaky)
        assert status == 403, (sneaky, status)
        assert b"IrisWithPage" not in body and b"created_at" not in body


def test_web_static_content_needs_its_directory_when_saved(modules, iris_model, tmp_path,
                                                           monkeypatch, store_home):
    monkeypatch.chdir(modules.folder)
    cls = modules.load("iris_with_page", STATIC_SERVICE).IrisWithPage
    with pytest.raises(InvalidArgument, match=r"@web_static_content\('./static'\).*no "
                                              "directory at"):
        cls().pack("model", iris_model).save()
    assert not (store_home / "repository" / "IrisWithPage").exists()


def test_a_service_without_static_content_keeps_the_default_page(iris_service, serve):
    page = requests.get(f"{serve(iris_service).url}/", timeout=10)
    assert page.status_code == 200 and "IrisClassifier" in page.text
    assert "POST /predict" in page.text
