"""``bentonb serve`` as a process: start, answer, shut down gracefully, fork workers."""

from __future__ import annotations

import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from helpers import ServeProcess, bentonb_cli, wait_until

SLOW_SERVICE = '''
import os
import time
from pathlib import Path

import bentonb
from bentonb.adapters import JsonInput


class SlowService(bentonb.BentoService):
    @bentonb.api(input=JsonInput())
    def wait(self, body):
        time.sleep(body["seconds"])
        return {"slept": body["seconds"], "pid": os.getpid()}

    @bentonb.api(input=JsonInput())
    def hold(self, body):
        """Busy until the caller writes to the FIFO body["release"]; says so in
        body["started"]."""
        Path(body["started"]).touch()
        Path(body["release"]).read_bytes()  # blocks until the caller writes and closes it
        return {"held": True}

    @bentonb.api(input=JsonInput(), batch=True)
    def pid(self, items):
        return [os.getpid() for _ in items]
'''


@pytest.fixture
def slow_bundle(modules):
    return Path(modules.load("slow_service", SLOW_SERVICE).SlowService().save())


def start_server(*args: str, env: dict | None = None) -> ServeProcess:
    """``bentonb serve ARGS --port 0``, started: its ``.url`` has the port the OS chose."""
    return ServeProcess(*args, "--port", "0", env=env).wait_started()


def refused(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.ConnectionError:
        return True
    return False


def test_serve_tag_and_call_like_the_tutorial(iris_service, iris_model):
    iris_service.save()
    with start_server("IrisClassifier:latest") as server:
        assert server.port != 0 and server.url == f"http://127.0.0.1:{server.port}"
        r = requests.post(f"{server.url}/predict", json=[[5.1, 3.5, 1.4, 0.2]], timeout=10)
        assert r.json() == iris_model.predict([[5.1, 3.5, 1.4, 0.2]]).tolist()
        assert server.stop(signal.SIGINT) == 0
    assert f"at {server.url} (1 worker); docs: {server.url}/docs" in server.output
    assert "curl -X POST" in server.output and "POST /predict 200" in server.output


def test_sigterm_finishes_requests_in_flight_then_exits_0(slow_bundle, tmp_path):
    started, release = tmp_path / "started", tmp_path / "release"
    os.mkfifo(release)
    with start_server(str(slow_bundle)) as server:
        answer = {}

        def call():
            answer["r"] = requests.post(f"{server.url}/hold", timeout=30, json={
                "started": str(started), "release": str(release)})

        caller = threading.Thread(target=call)
        caller.start()
        wait_until(started.exists, 30, message="the request to reach the model")
        server.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: refused(f"{server.url}/healthz"), 30,
                   message="the server to stop accepting connections")
        release.write_bytes(b"go")
        caller.join(30)
        assert answer["r"].status_code == 200 and answer["r"].json() == {"held": True}
        assert server.stop() == 0
    assert "finishing 1 request(s) in flight" in server.output


def test_two_workers_share_one_port(slow_bundle):
    with start_server(str(slow_bundle), "--workers", "2") as server:
        assert f"at {server.url} (2 workers)" in server.output
        pids: set[int] = set()

        def call(_):
            return requests.post(f"{server.url}/wait", json={"seconds": 0.05},
                                 timeout=10).json()["pid"]

        def both_answered() -> bool:
            with ThreadPoolExecutor(8) as pool:
                pids.update(pool.map(call, range(16)))
            return len(pids) == 2

        # The second worker may still be loading the bundle when the first answers.
        wait_until(both_answered, 60, message=lambda: f"two workers to answer (pids {pids})")
        assert server.pid not in pids
        assert server.stop() == 0


def test_port_from_environment_and_json_logs(slow_bundle):
    with ServeProcess(str(slow_bundle), "--log-format", "json",
                      env={"BENTONB_PORT": "0"}) as server:
        # Port 0 from the environment: a port the OS picked, not the default 5000.
        assert server.wait_started().port not in (0, 5000)
        r = requests.post(f"{server.url}/pid", json={}, timeout=5,
                          headers={"X-Request-Id": "req-42"})
        assert r.status_code == 200
        assert server.stop() == 0
    # Every line is a JSON record, the start-up lines too (with their fields).
    records = [json.loads(line) for line in server.output.splitlines() if line.strip()]
    started = [r for r in records if r["message"].startswith("bentonb serving ")]
    assert started[0]["url"] == server.url and started[0]["workers"] == 1
    assert started[0]["service"].startswith("SlowService:")
    assert any(r["message"].startswith("try: curl") for r in records)
    access = [r for r in records if r["logger"] == "bentonb.access" and r["path"] == "/pid"]
    assert access and access[0]["status"] == 200 and access[0]["request_id"] == "req-42"
    prediction = [r for r in records if r["logger"] == "bentonb.prediction"]
    assert prediction[0]["api"] == "pid" and prediction[0]["request_ids"] == ["req-42"]
    assert prediction[0]["items"] == 1 and prediction[0]["model_ms"] >= 0


@pytest.mark.parametrize("args, message", [
    (["Nope:latest"], "unknown tag 'Nope:latest'"),
    (["SlowService", "--port", "http"], "'http' is not a valid integer"),
    (["SlowService", "--workers", "0"], "0 is not in the range"),
    (["SlowService", "--log-format", "xml"], "'xml' is not one of"),
    (["SlowService", "--mb-max-latency", "-3"], "-3"),
    (["SlowService", "--max-request-size", "0"], "0"),
    (["/no/such/bundle"], "no bundle directory"),
])
def test_serve_bad_arguments(slow_bundle, args, message):
    result = bentonb_cli("serve", *args, timeout=60)
    assert result.returncode in (1, 2)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_serve_on_a_busy_port_says_so(slow_bundle):
    with start_server(str(slow_bundle)) as server:
        result = bentonb_cli("serve", str(slow_bundle), "--port", str(server.port), timeout=60)
        assert result.returncode == 1
        assert f"port {server.port} on 127.0.0.1 is already in use" in result.stderr
        assert server.stop() == 0
