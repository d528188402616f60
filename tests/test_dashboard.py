"""The dashboard over the store: the real `bentonb dashboard` on port 0, called over HTTP;
`bentonb label`; and the same routes inside a real Jupyter Server."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from conftest import IRIS_SERVICE
from helpers import DashboardProcess, bentonb_cli, snapshot, wait_until

from bentonb.bundle import BundleManifest, import_bundle
from bentonb.store import LocalStore

KEY = "dashboard-key-0123"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def saved(modules, iris_model):
    """IrisClassifier v1 (stage=dev), v2 (stage=prod), and PenguinClassifier p1 (team=ml)."""
    iris = modules.load("iris_classifier", IRIS_SERVICE).IrisClassifier().pack("model",
                                                                               iris_model)
    iris.save(version="v1", labels={"stage": "dev"})
    iris.save(version="v2", labels={"stage": "prod"})
    penguin = modules.load("penguin_classifier",
                           IRIS_SERVICE.replace("IrisClassifier", "PenguinClassifier"))
    penguin.PenguinClassifier().pack("model", iris_model).save(version="p1",
                                                              labels={"team": "ml"})
    return LocalStore()


@pytest.fixture
def dashboard(saved):
    processes = []

    def start(*args: str) -> DashboardProcess:
        process = DashboardProcess("--port", "0", *args).__enter__()
        processes.append(process)
        return process.wait_started()

    yield start
    for process in processes:
        process.__exit__(None, None, None)


def raw(port: int, path: str, method: str = "GET", headers: dict | None = None):
    """``path`` sent as is (no client normalises ``..`` or decodes ``%2F``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_list_filter_and_sort(dashboard):
    d = dashboard()
    body = requests.get(f"{d.url}/api/bundles", timeout=30).json()
    assert [b["tag"] for b in body["bundles"]] == [
        "IrisClassifier:v1", "IrisClassifier:v2", "PenguinClassifier:p1"]
    assert body["models"] is None  # no model store yet
    first = body["bundles"][0]
    assert first["labels"] == {"stage": "dev"} and first["apis"] == ["predict"]
    assert first["artifacts"] == ["SklearnModelArtifact"] and first["size"] > 1000

    def tags(query: str) -> list[str]:
        r = requests.get(f"{d.url}/api/bundles?{query}", timeout=30)
        assert r.status_code == 200, r.text
        return [b["tag"] for b in r.json()["bundles"]]

    assert tags("name=IrisClassifier") == ["IrisClassifier:v1", "IrisClassifier:v2"]
    assert tags("label=stage=prod") == ["IrisClassifier:v2"]
    assert tags("label=team=ml&name=PenguinClassifier") == ["PenguinClassifier:p1"]
    assert tags("label=stage=qa") == []
    assert tags("sort=-name") == ["PenguinClassifier:p1", "IrisClassifier:v2",
                                  "IrisClassifier:v1"]
    assert tags("sort=-created_at")[0] == "PenguinClassifier:p1"
    assert tags("sort=version") == ["PenguinClassifier:p1", "IrisClassifier:v1",
                                    "IrisClassifier:v2"]
    for query, word in [("sort=color", "invalid sort"), ("label=stage", "key=value"),
                        ("name=..", "invalid bundle name")]:
        r = requests.get(f"{d.url}/api/bundles?{query}", timeout=30)
        assert r.status_code == 400 and word in r.json()["error"], (query, r.text)
        assert r.json()["request_id"]

    names = requests.get(f"{d.url}/api/bundles/IrisClassifier", timeout=30).json()
    assert [v["version"] for v in names["versions"]] == ["v1", "v2"]
    page = requests.get(f"{d.url}/", timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'data-name="IrisClassifier"' in page.text and 'data-versions="2"' in page.text
    assert 'href="/bundles/IrisClassifier/v2"' in page.text and "<script src" not in page.text


def test_detail_page_and_json(dashboard):
    d = dashboard()
    detail = requests.get(f"{d.url}/api/bundles/IrisClassifier/v1", timeout=30).json()
    assert detail["tag"] == "IrisClassifier:v1" and detail["labels"] == {"stage": "dev"}
    assert detail["apis"][0]["input_type"] == "DataframeInput"
    assert detail["apis"][0]["doc"] == "Predict iris species."
    assert detail["artifacts"][0]["type"] == "SklearnModelArtifact"
    assert detail["artifacts"][0]["size"] > 100
    assert any(r.startswith("scikit-learn==") for r in detail["requirements"])
    assert "class IrisClassifier(bentonb.BentoService)" in detail["source"]
    assert "IrisClassifier" in detail["readme"]
    assert detail["versions"] == ["v1", "v2"]
    assert detail["commands"] == {"serve": "bentonb serve IrisClassifier:v1",
                                  "containerize": "bentonb containerize IrisClassifier:v1"}
    latest = requests.get(f"{d.url}/api/bundles/IrisClassifier/latest", timeout=30).json()
    assert latest["version"] == "v2"

    page = requests.get(f"{d.url}/bundles/IrisClassifier/v1", timeout=30).text
    assert '<span class="k">class</span> <span class="d">IrisClassifier</span>' in page
    assert "bentonb serve IrisClassifier:v1" in page
    assert "bentonb containerize IrisClassifier:v1" in page
    assert 'href="/api/bundles/IrisClassifier/v1/archive"' in page
    assert "DataframeInput &rarr; " in page and "Predict iris species." in page


def test_archive_imports_into_a_second_store(dashboard, tmp_path):
    d = dashboard()
    r = requests.get(f"{d.url}/api/bundles/IrisClassifier/v2/archive", timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/gzip"
    assert 'filename="IrisClassifier-v2.tar.gz"' in r.headers["Content-Disposition"]
    archive = tmp_path / "IrisClassifier-v2.tar.gz"
    archive.write_bytes(r.content)
    other = LocalStore(tmp_path / "other-home")
    bundle = import_bundle(archive, other)
    assert bundle.tag == "IrisClassifier:v2" and other.get("IrisClassifier").labels == {
        "stage": "prod"}
    original = LocalStore().get("IrisClassifier:v2").path
    assert BundleManifest.read(bundle.path) == BundleManifest.read(original)
    assert (bundle.path / "IrisClassifier" / "iris_classifier.py").read_text() == \
        (original / "IrisClassifier" / "iris_classifier.py").read_text()


TRAVERSALS = [
    "/api/bundles/..", "/api/bundles/../v1", "/api/bundles/%2e%2e/v1",
    "/api/bundles/%2E%2E/%2E%2E", "/api/bundles/IrisClassifier/..",
    "/api/bundles/IrisClassifier/%2e%2e", "/api/bundles/..%2F..%2Foutside/v1",
    "/api/bundles/IrisClassifier%2Fv1/x", "/api/bundles/%2Fetc%2Fpasswd/v1",
    "/api/bundles//etc/passwd", "/api/bundles/IrisClassifier/v1/../../../outside",
    "/bundles/../../outside/v1", "/bundles/%2e%2e/outside", "/api/bundles/.hidden/v1",
    "/api/bundles/Unknown/v1", "/api/bundles/IrisClassifier/v9",
    "/api/bundles/..%2F..%2Foutside/v1/archive", "/%2e%2e/%2e%2e/outside/v1",
]


def test_every_traversal_spelling_is_refused(dashboard, store_home, tmp_path):
    d = dashboard("--api-key", KEY)
    outside = store_home.parent / "outside" / "v1"
    outside.mkdir(parents=True)
    (outside / "bento.yaml").write_text("name: outside\nversion: v1\n")
    before, before_outside = snapshot(store_home), snapshot(outside.parent)
    for path in TRAVERSALS:
        for method in ("GET", "DELETE"):
            status, body = raw(d.port, path, method, {"Authorization": f"Bearer {KEY}"})
            # 405: a DELETE on a route that only reads (nothing there is looked up)
            assert status in ((400, 404) if method == "GET" else (400, 404, 405)), \
                (method, path, status, body)
            assert "error" in json.loads(body), (path, body)
    assert snapshot(store_home) == before and snapshot(outside.parent) == before_outside
    status, body = raw(d.port, "/api/bundles/%2e%2e/v1")
    assert status == 400 and b"invalid bundle name '..'" in body


def test_delete_needs_the_key(dashboard, saved):
    d = dashboard("--api-key", KEY)
    url = f"{d.url}/api/bundles/IrisClassifier/v1"
    path = saved.get("IrisClassifier:v1").path
    for headers in ({}, {"Authorization": "Bearer wrong-key-123"}, {"X-API-Key": "nope"}):
        r = requests.delete(url, headers=headers, timeout=30)
        assert r.status_code == 403 and "API key" in r.json()["error"], r.text
        assert path.is_dir()
    evil = requests.delete(url, headers={"Authorization": f"Bearer {KEY}",
                                         "Origin": "http://evil.example"}, timeout=30)
    assert evil.status_code == 403 and path.is_dir()
    rebound = requests.get(f"{d.url}/api/bundles", headers={"Host": "evil.example"},
                           timeout=30)
    assert rebound.status_code == 403
    r = requests.delete(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    assert r.status_code == 200 and r.json() == {"deleted": "IrisClassifier:v1"}
    assert not path.exists() and [b.tag for b in saved.list("IrisClassifier")] == [
        "IrisClassifier:v2"]
    assert requests.get(url, timeout=30).status_code == 404
    assert requests.delete(url, headers={"X-API-Key": KEY}, timeout=30).status_code == 404


def test_delete_without_a_key_from_loopback(dashboard, saved):
    d = dashboard()
    r = requests.delete(f"{d.url}/api/bundles/PenguinClassifier/p1", timeout=30)
    assert r.status_code == 200 and saved.list("PenguinClassifier") == []
    assert "from this machine only" in d.output


def test_labels_survive_a_restart(dashboard, saved):
    d = dashboard()
    result = bentonb_cli("label", "IrisClassifier:v1", "stage=prod", "owner=ml-team")
    assert result.returncode == 0, result.stderr
    assert "IrisClassifier:v1 labels: stage=prod,owner=ml-team" in result.stdout

    def labels(url: str) -> dict:
        return requests.get(f"{url}/api/bundles/IrisClassifier/v1", timeout=30).json()["labels"]

    assert labels(d.url) == {"stage": "prod", "owner": "ml-team"}  # the cache saw the change
    assert d.stop() == 0
    again = dashboard()
    assert labels(again.url) == {"stage": "prod", "owner": "ml-team"}
    prod = requests.get(f"{again.url}/api/bundles?label=stage=prod", timeout=30).json()
    assert [b["tag"] for b in prod["bundles"]] == ["IrisClassifier:v1", "IrisClassifier:v2"]


def test_label_command(saved):
    path = saved.get("IrisClassifier:v1").path
    package_copy = path / "IrisClassifier" / "bento.yaml"
    result = bentonb_cli("label", "IrisClassifier:v1", "team=ml", "--remove", "stage")
    assert result.returncode == 0, result.stderr
    assert BundleManifest.read(path).labels == {"team": "ml"}
    assert yaml.safe_load(package_copy.read_text())["labels"] == {"team": "ml"}
    assert (path / "bento.yaml").read_text() == package_copy.read_text()
    assert not [p for p in path.rglob(".bento.yaml.*")]  # no temporary file left
    before = snapshot(saved.home)
    for args, word in [
        (["IrisClassifier:v1"], "give labels to set"),
        (["IrisClassifier:v1", "nokey"], "is not KEY=VALUE"),
        (["IrisClassifier:v1", "=x"], "is not KEY=VALUE"),
        (["IrisClassifier:v1", "bad key=x"], "invalid label key 'bad key'"),
        (["IrisClassifier:v1", "k=line\x1bbreak"], "invalid value for label 'k'"),
        (["IrisClassifier:v1", "--remove", "nothere"], "has no label 'nothere'"),
        (["IrisClassifier:v1", "a=1", "--remove", "a"], "both set and removed"),
        (["IrisClassifier:v7", "a=1"], "unknown tag 'IrisClassifier:v7'"),
        (["../etc:v1", "a=1"], "invalid tag"),
    ]:
        result = bentonb_cli("label", *args)
        assert result.returncode != 0 and word in result.stderr, (args, result.stderr)
    assert snapshot(saved.home) == before


def test_models_section_when_a_model_store_exists(dashboard, store_home):
    model = store_home / "models" / "iris_svc" / "m1"
    model.mkdir(parents=True)
    (model / "model.yaml").write_text("created_at: '2024-01-01T00:00:00'\nmodule: sklearn\n"
                                      "labels: {stage: dev}\n")
    (store_home / "models" / "..bad").mkdir()
    d = dashboard()
    models = requests.get(f"{d.url}/api/bundles", timeout=30).json()["models"]
    assert models == [{"name": "iris_svc", "version": "m1", "created_at": "2024-01-01T00:00:00",
                       "module": "sklearn", "labels": {"stage": "dev"}}]
    assert 'id="models"' in requests.get(f"{d.url}/", timeout=30).text


@pytest.fixture
def jupyter_server(tmp_path, saved):
    """A real Jupyter Server with the config file the package installs, under /jp/."""
    config = tmp_path / ".jupyter" / "jupyter_server_config.d"
    config.mkdir(parents=True)
    shipped = REPO / "jupyter-config" / "jupyter_server_config.d" / "bentonb.json"
    (config / "bentonb.json").write_text(shipped.read_text())
    token, runtime = secrets.token_hex(16), tmp_path / "jupyter-runtime"
    log = tmp_path / "jupyter.log"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", "--port=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={tmp_path}", "--ServerApp.base_url=/jp/"],
            stdout=subprocess.DEVNULL, stderr=stderr,
            env={**os.environ, "JUPYTER_CONFIG_DIR": str(config.parent),
                 "JUPYTER_RUNTIME_DIR": str(runtime)})

    def listening() -> int | None:
        if proc.poll() is not None:
            raise AssertionError(f"Jupyter Server exited: {log.read_text()}")
        for info in runtime.glob("jpserver-*.json"):
            try:
                return json.loads(info.read_text())["port"]
            except (ValueError, KeyError):
                return None
        return None

    try:
        port = wait_until(listening, 120, interval=0.1,
                          message=lambda: f"Jupyter Server to listen:\n{log.read_text()}")
        yield f"http://127.0.0.1:{port}/jp", token
    finally:
        proc.terminate()
        proc.wait(30)


def test_jupyter_extension_behind_the_token(jupyter_server, saved):
    url, token = jupyter_server
    auth = {"Authorization": f"token {token}"}
    anonymous = requests.get(f"{url}/bentonb/api/bundles", timeout=30)
    assert anonymous.status_code == 403 and "bundles" not in anonymous.text
    r = requests.get(f"{url}/bentonb/api/bundles", headers=auth, timeout=30)
    assert r.status_code == 200, r.text
    assert [b["tag"] for b in r.json()["bundles"]] == [
        "IrisClassifier:v1", "IrisClassifier:v2", "PenguinClassifier:p1"]
    page = requests.get(f"{url}/bentonb/", headers=auth, timeout=30)
    assert page.status_code == 200 and 'href="/jp/bentonb/bundles/IrisClassifier/v2"' in page.text
    login = requests.get(f"{url}/bentonb/", timeout=30, allow_redirects=False)
    assert login.status_code == 302 and "login" in login.headers["Location"]
    bad = requests.get(f"{url}/bentonb/api/bundles/%2e%2e/v1", headers=auth, timeout=30)
    assert bad.status_code == 400 and "invalid bundle name" in bad.json()["error"]
    assert requests.get(f"{url}/bentonb/api/nothing", headers=auth,
                        timeout=30).status_code == 404
    assert requests.delete(f"{url}/bentonb/api/bundles/PenguinClassifier/p1",
                           timeout=30).status_code == 403
    assert saved.list("PenguinClassifier")
    gone = requests.delete(f"{url}/bentonb/api/bundles/PenguinClassifier/p1", headers=auth,
                           timeout=30)
    assert gone.status_code == 200 and saved.list("PenguinClassifier") == []


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance(history_length=0, history_load_length=0)
    ip.run_line_magic("load_ext", "bentonb")
    yield ip
    InteractiveShell.clear_instance()


def test_bento_store_magic(shell, saved):
    from IPython.core.error import UsageError

    table = shell.run_line_magic("bento_store", "Iris --labels stage=prod")
    texts = [row.children[0].value for row in table.rows.children]
    assert len(texts) == 1 and "IrisClassifier:v2" in texts[0] and "stage=prod" in texts[0]
    table.labels.value = ""
    assert len(table.rows.children) == 2
    table.labels.value = "oops"
    assert "key=value" in table.rows.children[0].value
    table.labels.value = ""
    details, serve, delete = table.rows.children[0].children[1:]
    details.click()
    assert "IrisClassifier:v1" in table.out.outputs[0]["data"]["text/html"]
    serve.click()
    handle = table.handles["IrisClassifier:v1"]
    try:
        r = requests.post(f"{handle.url}/predict", json=[[5.1, 3.5, 1.4, 0.2]], timeout=60)
        assert r.status_code == 200 and r.json() == [0]
    finally:
        handle.stop()
    delete.click()
    assert saved.list("IrisClassifier") != [] and delete.description == "confirm delete"
    delete.click()
    assert [b.tag for b in saved.list("IrisClassifier")] == ["IrisClassifier:v2"]
    assert len(table.rows.children) == 1
    with pytest.raises(UsageError, match="key=value"):
        shell.run_line_magic("bento_store", "--labels stage")
