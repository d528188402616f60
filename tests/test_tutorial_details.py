"""Details the tutorials show, checked as their users would meet them: a CSV with a
numeric header, the save message, the curl commands, ``get``/``info``, ..."""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from helpers import ServeProcess, wait_until

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


UPLOAD_SERVICE = '''
import bentonb
from bentonb.adapters import FileInput, ImageInput


class Uploads(bentonb.BentoService):
    @bentonb.api(input=ImageInput())
    def classify(self, image):
        return list(image.shape)

    @bentonb.api(input=FileInput())
    def size(self, file):
        return len(file.read())
'''


def run_shell(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True,
                          timeout=30, env={**os.environ, **env})


def test_curl_commands_send_real_files_and_the_api_key(modules, tmp_path):
    from PIL import Image

    from bentonb.adapters.curl import curl_command

    work = tmp_path / "shell"
    work.mkdir()
    Image.new("RGB", (7, 5), "red").save(work / "cat.png")
    (work / "file").write_bytes(b"x" * 1234)
    service = modules.load("uploads", UPLOAD_SERVICE).Uploads()
    key = "s3cret-key-for-tests"
    handle = bentonb.serve(service, port=0, api_key=key)
    try:
        image_cmd, file_cmd = handle.curl("classify"), handle.curl("size")
        assert "-F image=@cat.png" in image_cmd and "--data-binary @file" in file_cmd
        for command, expected in ((image_cmd, [5, 7, 3]), (file_cmd, 1234)):
            assert f"-H 'Authorization: Bearer {key}'" in command
            done = run_shell(command, work)
            assert done.returncode == 0 and json.loads(done.stdout) == expected, done
        keyless = run_shell(image_cmd.replace(key, "wrong-key-value"), work)
        assert json.loads(keyless.stdout)["error"]

        # The web page shows the same command, at the origin it was fetched from,
        # with the key read from the environment (the page never shows the key).
        page = requests.get(f"{handle.url}/", timeout=10).text
        shown = [html.unescape(c) for c in re.findall(r'<pre class="curl">(.*?)</pre>', page)]
        api = service.get_inference_api("classify")
        assert shown[0] == curl_command(api, handle.url, api_key_env="BENTONB_API_KEY")
        assert key not in page
        done = run_shell(shown[0], work, BENTONB_API_KEY=key)
        assert json.loads(done.stdout) == [5, 7, 3], done

        widget = handle.widget()
        assert html.escape(image_cmd) in widget.curl.value
        widget.api.value = "size"
        assert html.escape(file_cmd) in widget.curl.value
    finally:
        handle.stop()


def test_serve_cli_shows_a_curl_command_that_works(modules, tmp_path):
    from PIL import Image

    work = tmp_path / "shell"
    work.mkdir()
    Image.new("RGB", (4, 3), "blue").save(work / "cat.png")
    path = modules.load("uploads", UPLOAD_SERVICE).Uploads().save()
    key = "key-from-the-environment"
    with ServeProcess(path, "--port", "0", env={"BENTONB_API_KEY": key}) as server:
        server.wait_started()
        line = wait_until(lambda: re.search(r"^try: (curl .*)$", server.output, re.M), 30,
                          message=lambda: f"the curl line:\n{server.output}")
        command = line.group(1)
        assert key not in server.output  # the user's own key is never echoed
        assert '-H "Authorization: Bearer $BENTONB_API_KEY" -F image=@cat.png' in command
        done = run_shell(command, work, BENTONB_API_KEY=key)
        assert json.loads(done.stdout) == [3, 4, 3], done
        assert server.stop() == 0


@pytest.mark.parametrize("tag, registry", [
    ("irisclassifier:latest", None), ("me/iris:1", None), ("ghcr.io/me/iris:1", "ghcr.io"),
    ("localhost:5000/iris:1", "localhost:5000"), ("localhost/iris:1", "localhost"),
])
def test_registry_of_an_image_tag(tag, registry):
    from bentonb.container import registry_of

    assert registry_of(tag) == registry


NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def containerize_cli(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("bentonb")
    return subprocess.run([str(exe), "containerize", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **NO_ENGINE})


def test_containerize_tags_name_latest_too_unless_a_tag_is_given(iris_service, tmp_path):
    path = Path(iris_service.save())
    version = path.name.lower()
    done = containerize_cli("IrisClassifier:latest", "--output-dir", str(tmp_path / "ctx"))
    assert done.returncode == 3, done.stderr
    assert f"-t irisclassifier:{version} -t irisclassifier:latest " in done.stderr
    assert (tmp_path / "ctx" / "Dockerfile").is_file()
    done = containerize_cli("IrisClassifier:latest", "-t", "my-iris:7",
                            "--output-dir", str(tmp_path / "ctx2"))
    assert done.returncode == 3 and "-t my-iris:7 " in done.stderr
    assert "latest" not in done.stderr.split("docker build")[1]


def test_containerize_push_needs_a_registry_in_the_tag(iris_service, tmp_path):
    iris_service.save()
    for tag in ([], ["-t", "my-iris:7"]):
        done = containerize_cli("IrisClassifier:latest", "--push", *tag,
                                "--output-dir", str(tmp_path / "ctx"))
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: --push needs "
                                                                       "a registry")
        assert not (tmp_path / "ctx").exists()  # refused before anything was written
    done = containerize_cli("IrisClassifier:latest", "--push", "-t", "localhost:5000/iris:1",
                            "--output-dir", str(tmp_path / "ctx"))
    assert done.returncode == 3 and "-t localhost:5000/iris:1 " in done.stderr
