"""``bentonb serve`` as a process: start, answer, shut down gracefully, fork workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from helpers import bentonb_cli, free_port

SLOW_SERVICE = '''
import os
import time

import bentonb
from bentonb.adapters import JsonInput


class SlowService(bentonb.BentoService):
    @bentonb.api(input=JsonInput())
    def wait(self, body):
        time.sleep(body["seconds"])
        return {"slept": body["seconds"], "pid": os.getpid()}

    @bentonb.api(input=JsonInput(), batch=True)
    def pid(self, items):
        return [os.getpid() for _ in items]
'''


@pytest.fixture
def slow_bundle(modules):
    return Path(modules.load("slow_service", SLOW_SERVICE).SlowService().save())


def start_server(*args: str, port: int, env: dict | None = None) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("bentonb")
    proc = subprocess.Popen([str(exe), "serve", *args, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def test_serve_tag_and_call_like_the_tutorial(iris_service, iris_model):
    iris_service.save()
    port = free_port()
    proc = start_server("IrisClassifier:latest", port=port)
    try:
        r = requests.post(f"http://127.0.0.1:{port}/predict", json=[[5.1, 3.5, 1.4, 0.2]],
                          timeout=10)
        assert r.json() == iris_model.predict([[5.1, 3.5, 1.4, 0.2]]).tolist()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert f"at http://127.0.0.1:{port}" in err and "curl -X POST" in err
    assert "POST /predict 200" in err


def test_sigterm_finishes_requests_in_flight_then_exits_0(slow_bundle):
    port = free_port()
    proc = start_server(str(slow_bundle), port=port)
    answer = {}

    def call():
        answer["r"] = requests.post(f"http://127.0.0.1:{port}/wait", json={"seconds": 1.5},
                                    timeout=30)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.4)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    caller.join(30)
    assert answer["r"].status_code == 200 and answer["r"].json()["slept"] == 1.5
    assert proc.wait(timeout=30) == 0
    assert "finishing 1 request(s) in flight" in proc.stderr.read()


def test_two_workers_share_one_port(slow_bundle):
    port = free_port()
    proc = start_server(str(slow_bundle), "--workers", "2", port=port)
    try:
        def call(_):
            return requests.post(f"http://127.0.0.1:{port}/wait", json={"seconds": 0.05},
                                 timeout=10).json()["pid"]

        with ThreadPoolExecutor(8) as pool:
            pids = set(pool.map(call, range(80)))
        assert len(pids) == 2 and proc.pid not in pids
    finally:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_port_from_environment_and_json_logs(slow_bundle):
    port = free_port()
    exe = Path(sys.executable).with_name("bentonb")
    proc = subprocess.Popen([str(exe), "serve", str(slow_bundle), "--log-format", "json"],
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "BENTONB_PORT": str(port)})
    try:
        for _ in range(300):
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        r = requests.post(f"http://127.0.0.1:{port}/pid", json={}, timeout=5,
                          headers={"X-Request-Id": "req-42"})
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
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
    port = free_port()
    proc = start_server(str(slow_bundle), port=port)
    try:
        result = bentonb_cli("serve", str(slow_bundle), "--port", str(port), timeout=60)
        assert result.returncode == 1
        assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
