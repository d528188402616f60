"""A bundle on Ray Serve: a real local Ray (2 CPUs, loopback), a real iris SVC, real HTTP.

One Ray instance serves the whole module and is shut down by the last test, which
checks that no Ray process of it is left.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from helpers import wait_until

from bentonb.server.app import ServerConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

KEY = "ray-test-key-0123"
BATCH_IRIS = '''
import pandas as pd

import bentonb
from bentonb.adapters import DataframeInput, JsonInput
from bentonb.artifact import SklearnModelArtifact


@bentonb.env(infer_pip_packages=True)
@bentonb.artifacts([SklearnModelArtifact('model')])
class RayIris(bentonb.BentoService):
    """Iris species, micro-batched."""

    @bentonb.api(input=DataframeInput(), batch=True)
    def predict(self, df: pd.DataFrame):
        return self.artifacts.model.predict(df)

    @bentonb.api(input=JsonInput())
    def words(self, body):
        """One item per word, streamed."""
        for word in body["text"].split():
            yield {"word": word}
'''


def ray_processes(session_dir: str) -> list[str]:
    """Command lines of the live raylet / gcs_server processes of this Ray session."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if ("raylet" in cmd or "gcs_server" in cmd) and session_dir in cmd:
            found.append(cmd)
    return found


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, iris_model) -> Path:
    folder = tmp_path_factory.mktemp("ray-project")
    (folder / "ray_iris.py").write_text(BATCH_IRIS, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        import ray_iris

        svc = ray_iris.RayIris().pack("model", iris_model)
        return Path(svc.save(tmp_path_factory.mktemp("ray-store")))
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("ray_iris", None)


class LocalRay:
    def __init__(self) -> None:
        import ray

        from bentonb.ray import start_local

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = start_local(num_cpus=2, port=port)
        self.session_dir = ray._private.worker._global_node.get_session_dir_path()
        self.down = False

    def shutdown(self) -> None:
        if not self.down:
            import ray
            from ray import serve

            self.down = True
            serve.shutdown()
            ray.shutdown()


@pytest.fixture(scope="module")
def local_ray():
    ray = LocalRay()
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def iris_app(local_ray, bundle) -> str:
    """The bundle deployed with 2 replicas at ``/``, with an API key; its URL."""
    from bentonb.ray import run

    run(bundle, num_replicas=2, ray_actor_options={"num_cpus": 0.5},
        config=ServerConfig(api_key=KEY))
    return local_ray.url


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_400_concurrent_distinct_requests_all_answered_right(iris_app, iris_data, iris_model):
    X, _ = iris_data
    rng = np.random.default_rng(7)
    rows = X[rng.integers(0, len(X), 400)] + rng.normal(0, 0.05, (400, 4))
    expected = iris_model.predict(rows)

    def call(i: int) -> tuple[int, list]:
        r = requests.post(f"{iris_app}/predict", json=[rows[i].tolist()], headers=auth(),
                          timeout=60)
        return r.status_code, r.json()

    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(call, range(400)))
    assert [status for status, _ in answers] == [200] * 400
    assert [body[0] for _, body in answers] == expected.tolist()


def test_errors_and_openapi_are_those_of_bentonb_serve(iris_app, bundle, serve):
    from bentonb.bundle import load_bundle

    direct = serve(load_bundle(bundle), api_key=KEY).url
    cases = [
        ("POST", "/predict", b"{bad", {**auth(), "Content-Type": "application/json"}),
        ("POST", "/predict", b"[]", {**auth(), "Content-Type": "application/json"}),
        ("POST", "/predict", b"[[1,2,3,4]]", {}),
        ("POST", "/nope", b"", auth()),
        ("DELETE", "/predict", b"", auth()),
        ("GET", "/docs.json", b"", {}),
        ("GET", "/readyz", b"", {}),
    ]
    for method, path, body, headers in cases:
        on_ray = requests.request(method, iris_app + path, data=body, headers=headers,
                                  timeout=30)
        served = requests.request(method, direct + path, data=body, headers=headers,
                                  timeout=30)
        assert on_ray.status_code == served.status_code, (method, path)
        assert on_ray.headers["Content-Type"] == served.headers["Content-Type"]
        for name in ("WWW-Authenticate", "Allow"):
            assert on_ray.headers.get(name) == served.headers.get(name), (method, path, name)
        ray_body, served_body = on_ray.json(), served.json()
        if on_ray.status_code >= 400:
            assert ray_body["error"] == served_body["error"]
            assert ray_body["request_id"] == on_ray.headers["X-Request-Id"]
        else:
            assert ray_body == served_body
    bad = requests.post(f"{iris_app}/predict", data=b"{bad", timeout=30,
                        headers={**auth(), "Content-Type": "application/json"})
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    # The client's own request id is kept, once.
    mine = requests.post(f"{iris_app}/predict", data=b"{bad", timeout=30,
                         headers={**auth(), "X-Request-Id": "my-id-42"})
    assert mine.json()["request_id"] == "my-id-42"
    assert mine.headers["X-Request-Id"] == "my-id-42"


def test_a_streaming_api_streams_through_ray_as_through_bentonb_serve(iris_app, bundle,
                                                                      serve):
    from bentonb.bundle import load_bundle

    direct = serve(load_bundle(bundle), api_key=KEY).url
    text = " ".join(f"w{i}" for i in range(200))
    answers = []
    for url in (iris_app, direct):
        with requests.post(f"{url}/words", json={"text": text}, headers=auth(),
                           stream=True, timeout=30) as r:
            assert r.status_code == 200
            parts = [chunk for chunk in r.iter_content(None) if chunk]
            answers.append((r.headers["Content-Type"], r.headers.get("Content-Length"),
                            b"".join(parts)))
    on_ray, served = answers
    assert on_ray == served
    assert on_ray[1] is None  # sent in chunks as it was written, not as one body
    assert on_ray[2].count(b'"word"') == 200 and b'"w199"' in on_ray[2]


def test_api_key_is_enforced(iris_app):
    row = [[5.1, 3.5, 1.4, 0.2]]
    missing = requests.post(f"{iris_app}/predict", json=row, timeout=30)
    wrong = requests.post(f"{iris_app}/predict", json=row, headers=auth("wrong-key-999"),
                          timeout=30)
    for r in (missing, wrong):
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert "missing or wrong API key" in r.json()["error"]
    header = requests.post(f"{iris_app}/predict", json=row, headers={"X-API-Key": KEY},
                           timeout=30)
    assert header.status_code == 200 and header.json() == [0]


def test_scaling_replicas_up_and_down_never_fails_a_request(local_ray, bundle):
    from ray import serve

    from bentonb.ray import run

    url = f"{local_ray.url}/scale"
    row = [[6.7, 3.0, 5.2, 2.3]]

    def deploy(n: int) -> None:
        # 3 x 0.25 CPU beside the 2 x 0.5 of iris_app: all fit in the 2 CPUs.
        run(bundle, name="scaling", route_prefix="/scale", num_replicas=n,
            ray_actor_options={"num_cpus": 0.25})
        wait_until(lambda: serve.status().applications["scaling"].deployments["RayIris"]
                   .replica_states.get("RUNNING") == n, 120, message=f"{n} running replicas")

    deploy(1)
    results: list[int | str] = []
    stop = threading.Event()

    def hammer() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    r = session.post(f"{url}/predict", json=row, timeout=30)
                    results.append(r.status_code if r.json() == [2] else r.text)
                except requests.RequestException as exc:
                    results.append(repr(exc))

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        for n in (3, 1):
            before = len(results)
            deploy(n)
            wait_until(lambda b=before: len(results) > b + 20, 60,
                       message="requests after scaling")
    finally:
        stop.set()
        thread.join(60)
    failures = [r for r in results if r != 200]
    assert len(results) > 40 and failures == []
    serve.delete("scaling")


def test_each_request_is_logged_once_by_bentonb_not_again_by_serve(local_ray, iris_app):
    """The replica writes bentonb's access line; Serve's own access log stays off."""
    rid, path = "log-once-7f3a9c", "/predict?marker=q7f3a9c"
    r = requests.post(f"{iris_app}{path}", json=[[5.1, 3.5, 1.4, 0.2]],
                      headers={**auth(), "X-Request-Id": rid}, timeout=60)
    assert r.status_code == 200
    logs = Path(local_ray.session_dir) / "logs"

    def lines_naming_the_request() -> list[tuple[str, str]]:
        return [(path.relative_to(logs).parts[0], line)
                for path in logs.rglob("*") if path.is_file()
                for line in path.read_text(errors="replace").splitlines()
                if rid in line or "q7f3a9c" in line]

    access = f"bentonb.access POST {path} 200"
    wait_until(lambda: any(access in line for _, line in lines_naming_the_request()), 60,
               message="bentonb's access line in the replica's log")
    found = lines_naming_the_request()
    assert len([line for _, line in found if access in line]) == 1, found
    assert [line for folder, line in found if folder == "serve"] == []


def test_ray_logs_name_only_loopback_addresses(local_ray, iris_app):
    logs = Path(local_ray.session_dir) / "logs"
    files = [p for p in logs.rglob("*") if p.is_file()]
    assert files
    address = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
    found: dict[str, str] = {}
    for path in files:
        for ip in address.findall(path.read_text(errors="replace")):
            if not ip.startswith("127."):
                found.setdefault(ip, path.name)
    assert found == {}


def test_shutdown_leaves_no_ray_process(local_ray):
    assert ray_processes(local_ray.session_dir)  # the check sees them while running
    local_ray.shutdown()
    wait_until(lambda: not ray_processes(local_ray.session_dir), 60,
               message="raylet and gcs_server")
