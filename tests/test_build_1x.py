"""``bentonb build``: the seed 003 online-serving service built from a bentofile.yaml
into a bundle of the store, served by tag, shipped (export/import, containerize
context, pip package) and served from a second store that never held its model."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import requests
import yaml
from helpers import ServeProcess, bentonb_cli
from test_bentoml_1x import SEED_SERVICE, driver_model  # noqa: F401  (fixture)

# The seed's service with the training step taken out: the model is saved once
# (below), and the service takes the newest version from the store, or from the
# bundle it was built into.
_SAVE = SEED_SERVICE[SEED_SERVICE.index('model_name = "sklearn-model"'):
                     SEED_SERVICE.index("feature_list = bentoml_model.custom_objects")]
SERVICE = SEED_SERVICE.replace(_SAVE, 'bentoml_model = bentonb.sklearn.get("sklearn-model")\n'
                               'feature_list = None\n\n')
TRAIN = f"""
import os
import joblib
import bentonb

{_SAVE}
"""
BENTOFILE = """\
service: "service:svc"
include:
  - "*.py"
exclude:
  - "train.py"
labels:
  owner: mlops
  stage: dev
python:
  packages:
    - scikit-learn
    - pandas
docker:
  system_packages:
    - libgomp1
"""


@pytest.fixture
def project(tmp_path, driver_model):  # noqa: F811
    """A build directory with the service, a training script and a bentofile, and the
    model trained into the store."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "service.py").write_text(SERVICE, encoding="utf-8")
    (folder / "train.py").write_text(TRAIN, encoding="utf-8")
    (folder / "bentofile.yaml").write_text(BENTOFILE, encoding="utf-8")
    (folder / "notes.txt").write_text("not included", encoding="utf-8")
    subprocess.run([sys.executable, "train.py"], cwd=folder, check=True, timeout=120,
                   env={**os.environ, "DRIVER_MODEL_FILE": str(driver_model)})
    return folder


def check_answers(url: str) -> None:
    r = requests.post(f"{url}/inference", json={"driver_ids": [1001, 1002, 1003]},
                      timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"prediction": 1002.0, "error": None}
    r = requests.post(f"{url}/inference", json={"driver": [1]}, timeout=30)
    assert r.status_code == 400 and "driver_ids" in r.json()["error"]
    r = requests.post(f"{url}/inference", data=b"{not json", timeout=30,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


def test_build_serve_export_import_serve(project, store_home, tmp_path):
    built = bentonb_cli("build", "--version", "v1", str(project))
    assert built.returncode == 0, built.stderr
    assert "Successfully built sklearn-model:v1" in built.stdout
    bundle = store_home / "repository" / "sklearn-model" / "v1"
    manifest = yaml.safe_load((bundle / "bento.yaml").read_text())
    model = next((store_home / "models" / "sklearn-model").iterdir()).name
    assert manifest["kind"] == "1.x" and manifest["service"] == "service:svc"
    assert manifest["models"] == [f"sklearn-model:{model}"]
    assert manifest["labels"] == {"owner": "mlops", "stage": "dev"}
    assert [a["name"] for a in manifest["apis"]] == ["inference"]
    package = bundle / "sklearn_model"
    assert sorted(p.name for p in (package / "src").iterdir()) == ["service.py"]
    assert (package / "models" / "sklearn-model" / model / "model.yaml").is_file()
    requirements = (bundle / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert any(r.startswith("pandas==") for r in requirements)
    assert any(r.startswith("pydantic==") for r in requirements)  # inferred from imports
    assert "apt-get install -y --no-install-recommends libgomp1" in \
        (bundle / "Dockerfile").read_text()
    pyproject = (bundle / "pyproject.toml").read_text()
    assert 'packages = ["sklearn_model"]' in pyproject and '"scikit-learn==' in pyproject

    listed = bentonb_cli("list", "-o", "json")
    assert listed.returncode == 0 and "sklearn-model" in listed.stdout
    from bentonb.dashboard.catalog import Catalog
    from bentonb.dashboard.pages import detail_page

    catalog = Catalog()
    [entry] = catalog.entries()
    assert entry.summary()["kind"] == "1.x"
    assert entry.summary()["models"] == [f"sklearn-model:{model}"]
    detail = catalog.detail("sklearn-model", "v1")
    assert "ONLINE_STORE" in detail["source"] and detail["models"][0]["size"] > 0
    page = detail_page(detail, "/")
    assert f"sklearn-model:{model}" in page and "service:svc" in page

    with ServeProcess("sklearn-model:latest", "--port", "0").wait_started(120) as server:
        check_answers(server.url)
        assert server.stop() == 0
    assert "bentonb serving sklearn-model:v1 at" in server.output

    archive = tmp_path / "sklearn-model.tar.gz"
    assert bentonb_cli("export", "sklearn-model:v1", str(archive)).returncode == 0
    with tarfile.open(archive) as tar:
        assert f"sklearn-model/v1/sklearn_model/models/sklearn-model/{model}/model.yaml" in \
            tar.getnames()

    # A second store that never held the model: the bundle's own copy is served.
    other = tmp_path / "other-home"
    env = {**os.environ, "BENTONB_HOME": str(other)}
    imported = subprocess.run([str(Path(sys.executable).with_name("bentonb")), "import",
                               str(archive)], env=env, capture_output=True, text=True,
                              timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert "sklearn_model/src/service.py" in imported.stdout
    with ServeProcess("sklearn-model:v1", "--port", "0",
                      env={"BENTONB_HOME": str(other)}).wait_started(120) as server:
        check_answers(server.url)
        assert server.stop() == 0
    assert not (other / "models").exists()


def test_containerize_context_and_pip_package(project, tmp_path):
    assert bentonb_cli("build", "--version", "v2", str(project)).returncode == 0
    from bentonb.bundle import resolve
    from bentonb.container import write_context

    # The build context `bentonb containerize` hands to the engine (no image is built).
    context = write_context(resolve("sklearn-model:v2"), tmp_path / "context")
    assert (context / "Dockerfile").is_file() and (context / "requirements.txt").is_file()
    assert (context / "sklearn_model" / "src" / "service.py").is_file()
    assert "bentonb serve /bundle" in (context / "docker-entrypoint.sh").read_text()
    # pip installs the bundle as a package whose load() serves the bundled model.
    target = tmp_path / "site"
    bundle = project.parent / "bentonb-home" / "repository" / "sklearn-model" / "v2"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check", "--target",
                    str(target), str(bundle)], check=True, timeout=300, capture_output=True)
    code = ("import sklearn_model; svc = sklearn_model.load(); "
            "print(svc.get_inference_api('inference')({'driver_ids': [1001, 1003]}))")
    env = {**os.environ, "PYTHONPATH": str(target), "BENTONB_HOME": str(tmp_path / "empty")}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "prediction=1003.0" in result.stdout


@pytest.mark.parametrize("bentofile, key", [
    ('service: "service:svc"\ninclude: ["../../etc/passwd"]\n', "'include'"),
    ('service: "service:svc"\ninclude: ["/etc/*"]\n', "'include'"),
    ('service: "service:svc"\nexclude: ["../*"]\n', "'exclude'"),
    ('service: "os:system"\n', "'service'"),
    ('service: "service"\n', "'service'"),
    ('service: "service:svc"\nservise: x\n', "'servise'"),
    ('service: "service:svc"\npython:\n  packges: [x]\n', "'python.packges'"),
    ('service: "service:svc"\nlabels: [a, b]\n', "'labels'"),
    ('service: "service:svc"\ndocker:\n  system_packages: ["x; rm -rf /"]\n',
     "'docker.system_packages'"),
    ('service: "service:svc"\npython:\n  requirements_txt: ../secret.txt\n',
     "'python.requirements_txt'"),
    ('service: "service:nope"\n', "'service'"),
])
def test_hostile_bentofile_is_refused(project, store_home, bentofile, key):
    (project / "bentofile.yaml").write_text(bentofile, encoding="utf-8")
    before = sorted(p.name for p in (store_home / "repository").glob("*"))
    result = bentonb_cli("build", str(project))
    assert result.returncode == 1
    error = result.stderr.strip()
    assert error.startswith("Error: ") and key in error and len(error.splitlines()) == 1, error
    assert sorted(p.name for p in (store_home / "repository").glob("*")) == before
