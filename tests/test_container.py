"""Shipping for real: images built with Podman through the Docker Engine API and run,
pip-installed bundles in a fresh virtual environment, archives served as they are."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers import STARTUP_LINE, ServeProcess, bentonb_cli, wait_until

import bentonb

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "localhost/bentonb-base:latest"
SAMPLE = [[5.1, 3.5, 1.4, 0.2]]


@pytest.fixture(scope="session")
def engine():
    """Podman serving the Docker API on a local socket, and an offline base image.
    A service this fixture started is stopped at the end, not left running."""
    pid_file = Path("/tmp/bentonb-podman.sock.pid")
    pid_file.unlink(missing_ok=True)
    result = subprocess.run(["bash", str(ROOT / "scripts" / "container-engine.sh")],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"container engine set-up failed:\n{result.stderr}"
    host = result.stdout.strip().splitlines()[-1]
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = host
    import docker

    client = docker.from_env(timeout=600)
    yield client
    client.images.prune(filters={"dangling": True})  # left by the failing builds
    client.close()
    if pid_file.exists():
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
    if previous is None:
        os.environ.pop("DOCKER_HOST", None)
    else:
        os.environ["DOCKER_HOST"] = previous


def run_container(client, image: str, command: list[str] | None = None):
    """Run ``image`` on the host network with PORT=0: the server binds a port the OS
    picks and names it in its startup line."""
    return client.containers.run(image, command or [], detach=True, network_mode="host",
                                 environment={"PORT": "0"})


def wait_for_startup(container, timeout: float = 90) -> str:
    """Wait for the server's startup line in the container's log; return its URL."""
    def started():
        logs = container.logs().decode()
        if match := STARTUP_LINE.search(logs):
            return match.group(1)
        container.reload()
        if container.status in ("exited", "dead"):
            raise AssertionError(f"container {container.status}:\n{logs[-3000:]}")
        return None

    return wait_until(started, timeout, interval=0.2,
                      message=lambda: f"the server in the container to start:\n"
                                      f"{container.logs().decode()[-3000:]}")


@pytest.mark.container
@pytest.mark.slow
def test_containerize_offline_and_serve_the_tutorial_request(engine, iris_service, iris_model,
                                                             tmp_path):
    iris_service.save()
    tag = f"iris-classifier:{iris_service.version.lower()}"
    result = bentonb_cli("containerize", "IrisClassifier:latest", "--wheels", "--base-image",
                         BASE_IMAGE, "-t", tag, "--output-dir", str(tmp_path / "ctx"),
                         timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wheels in" in result.stderr and "STEP" in result.stderr
    assert result.stdout.strip() == f"docker run -p 5000:5000 {tag}"
    wheels = {p.name.split("-")[0].lower() for p in (tmp_path / "ctx" / "wheels").glob("*.whl")}
    assert {"bentonb", "scikit_learn", "pandas", "tornado"} <= wheels

    config = engine.images.get(tag).attrs["Config"]
    assert config["User"] == "bentonb"
    assert "5000/tcp" in config["ExposedPorts"]
    # Podman builds OCI images, which have no HEALTHCHECK field; Docker keeps it.
    assert "HEALTHCHECK" in (tmp_path / "ctx" / "Dockerfile").read_text()
    assert "/healthz" in (tmp_path / "ctx" / "Dockerfile").read_text()

    expected = iris_model.predict(SAMPLE).tolist()
    for command in ([], ["--workers", "2"]):
        container = run_container(engine, tag, command)
        try:
            # The startup line comes once the first worker serves, naming the bound port.
            url = wait_for_startup(container)
            banner = f"at {url} ({'2 workers' if command else '1 worker'})"
            assert banner in container.logs().decode()
            r = requests.post(f"{url}/predict", json=SAMPLE, timeout=10)
            assert r.status_code == 200 and r.json() == expected
            with bentonb.Client(url) as client:  # the Python client against the image
                assert client.predict(SAMPLE) == expected
            assert requests.get(f"{url}/readyz", timeout=5).ok
        finally:
            container.stop(timeout=20)
            status = container.wait(timeout=30)["StatusCode"]
            logs = container.logs().decode()
            container.remove()
        assert status == 0, logs
        assert banner in logs
    engine.images.remove(tag, force=True)


def test_no_engine_writes_the_context_and_exits_3(iris_service, tmp_path, monkeypatch):
    iris_service.save()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    result = bentonb_cli("containerize", "IrisClassifier:latest", "--output-dir",
                         str(tmp_path / "ctx"), "--build-arg", "A=1", timeout=120)
    assert result.returncode == 3
    assert "no container engine is reachable" in result.stderr
    assert f"docker build --build-arg A=1 -t irisclassifier:{iris_service.version.lower()} " \
           f"-t irisclassifier:latest {tmp_path / 'ctx'}" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "ctx" / "Dockerfile").is_file()
    assert (tmp_path / "ctx" / "IrisClassifier" / "artifacts" / "model" / "model.joblib").is_file()


@pytest.mark.parametrize("args, message", [
    (["Nope:latest"], "unknown tag 'Nope:latest'"),
    (["IrisClassifier:latest", "--build-arg", "novalue"], "'novalue' is not K=V"),
])
def test_containerize_bad_arguments(iris_service, args, message):
    iris_service.save()
    result = bentonb_cli("containerize", *args, timeout=60)
    assert result.returncode in (1, 2) and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.container
@pytest.mark.slow
def test_missing_base_image_and_failing_step_are_reported(engine, modules, iris_model):
    modules.load("failing_setup", '''
        import bentonb
        from bentonb.adapters import DataframeInput
        from bentonb.artifact import SklearnModelArtifact

        @bentonb.env(setup_sh="echo preparing the image && exit 7")
        @bentonb.artifacts([SklearnModelArtifact('model')])
        class FailingSetup(bentonb.BentoService):
            @bentonb.api(input=DataframeInput())
            def predict(self, df):
                return self.artifacts.model.predict(df)
    ''').FailingSetup().pack("model", iris_model).save()
    result = bentonb_cli("containerize", "FailingSetup:latest", "--base-image",
                         "localhost/no-such-base:1", timeout=300)
    assert result.returncode == 1 and "no-such-base" in result.stderr
    assert "Error: building failingsetup:" in result.stderr
    result = bentonb_cli("containerize", "FailingSetup:latest", "--wheels", "--base-image",
                         BASE_IMAGE, timeout=900)
    assert result.returncode == 1
    assert "preparing the image" in result.stderr          # the build log was streamed
    assert "bash ./setup.sh" in result.stderr and "exit status 7" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # pip installs bentonb and the bundle into a new venv
def test_pip_installed_bundle_and_archives_in_a_fresh_venv(iris_service, iris_model, tmp_path):
    bundle = Path(iris_service.save())
    archive = tmp_path / "iris.tar.gz"
    assert bentonb_cli("export", "IrisClassifier:latest", str(archive)).returncode == 0
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check"]
    subprocess.run([*pip, str(ROOT)], check=True, timeout=900)
    subprocess.run([*pip, str(bundle)], check=True, timeout=900)
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import IrisClassifier; svc = IrisClassifier.load(); "
                          f"print(svc.tag, svc.predict({SAMPLE}).tolist())"],
                         capture_output=True, text=True, cwd=tmp_path, check=True,
                         env={**os.environ, "BENTONB_HOME": str(tmp_path / "empty")}).stdout
    assert out.strip() == f"{iris_service.tag} {iris_model.predict(SAMPLE).tolist()}"
    for target in (str(bundle), str(archive)):
        with ServeProcess(target, "--port", "0", exe=venv / "bin" / "bentonb",
                          cwd=tmp_path) as server:
            r = requests.post(f"{server.wait_started(90).url}/predict", json=SAMPLE, timeout=10)
            assert r.json() == iris_model.predict(SAMPLE).tolist()
            assert server.stop() == 0, server.output
