"""``bentonb serve`` as a process under hostile conditions: graceful shutdown with
keep-alive clients, dying workers, readiness while models load, flag checks, API keys
kept out of the command line."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from helpers import ServeProcess, bentonb_cli, wait_until

SERVICE = '''
import os
import time

import bentonb
from bentonb.adapters import JsonInput

# Stands for models that take a while to load (only where the test asks for it).
time.sleep(float(os.environ.get("TRUST_LOAD_SECONDS", "0")))


class TrustService(bentonb.BentoService):
    @bentonb.api(input=JsonInput())
    def wait(self, body):
        time.sleep(body["seconds"])
        return {"slept": body["seconds"], "pid": os.getpid()}

    @bentonb.api(input=JsonInput())
    def pid(self, body):
        return os.getpid()
'''


@pytest.fixture
def bundle(modules):
    return Path(modules.load("trust_service", SERVICE).TrustService().save())


LISTENING = re.compile(r"bentonb listening at (http://[^:\s]+:(\d+));")


class Server(ServeProcess):
    """A ``bentonb serve`` process on a port the OS picked, its output collected."""

    def __init__(self, *args: str, env: dict | None = None) -> None:
        super().__init__(*args, "--port", "0", env=env)

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines(keepends=True)

    @property
    def log(self) -> str:
        return self.output

    def status(self, path: str) -> int | None:
        try:
            return requests.get(f"{self.url}{path}", timeout=2).status_code
        except (requests.ConnectionError, requests.Timeout):
            return None

    def wait_listening(self) -> None:
        """Wait for the port to be bound (before any model loads); set ``.url``."""
        match = wait_until(lambda: LISTENING.search(self.output), 60,
                           message=lambda: f"bentonb serve to listen:\n{self.output}")
        self.url, self.port = match.group(1), int(match.group(2))

    def wait_ready(self) -> None:
        self.wait_started()
        wait_until(lambda: self.status("/readyz") == 200 or self.proc.poll() is not None,
                   60, message="readiness")
        assert self.proc.poll() is None, self.log


def in_progress(server: Server, api: str) -> float:
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    match = re.search(rf'^bentonb_requests_in_progress{{api="{api}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_sigterm_closes_idle_keepalive_at_once_and_answers_in_flight(bundle):
    server = Server(str(bundle), "--max-concurrency", "8")
    server.wait_ready()
    idle = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
            for _ in range(8)]
    for conn in idle:  # one answered request each, then the connection stays open
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Connection") != "close"
        response.read()
    answers: dict[int, tuple] = {}

    def busy(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        conn.request("POST", "/wait", body=json.dumps({"seconds": 1.5}),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        answers[index] = (response.status, response.getheader("Connection"),
                          json.loads(response.read()), time.monotonic())

    callers = [threading.Thread(target=busy, args=(i,)) for i in range(8)]
    for caller in callers:
        caller.start()
    wait_until(lambda: in_progress(server, "wait") == 8.0, 20, message="8 requests in flight")
    sigterm = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    closed = []
    for conn in idle:
        conn.sock.settimeout(10)
        assert conn.sock.recv(1) == b"", "an idle connection was not closed"
        closed.append(time.monotonic())
    for caller in callers:
        caller.join(20)
    code = server.stop()
    exited = time.monotonic()
    assert len(answers) == 8, f"lost {8 - len(answers)} request(s)"
    for status, connection, body, _ in answers.values():
        assert status == 200 and body["slept"] == 1.5 and connection == "close"
    assert max(closed) < min(t for *_, t in answers.values()), \
        "idle connections waited for the requests in flight"
    assert code == 0
    assert exited - sigterm < 5, f"exit took {exited - sigterm:.1f}s after SIGTERM"
    assert "finishing 8 request(s) in flight" in server.log


def test_a_killed_worker_is_replaced_and_requests_keep_succeeding(bundle):
    server = Server(str(bundle), "--workers", "2")
    try:
        server.wait_ready()
        pids: set[int] = set()

        def both_seen() -> bool:
            pids.add(requests.post(f"{server.url}/pid", json={}, timeout=5).json())
            return len(pids) == 2

        wait_until(both_seen, 20, message="both workers to answer")
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        statuses, seen = [], set()

        def replaced() -> bool:
            r = requests.post(f"{server.url}/pid", json={}, timeout=10)
            statuses.append(r.status_code)
            seen.add(r.json())
            return bool(seen - pids)

        wait_until(replaced, 60, message="a new worker to answer")
        assert set(statuses) == {200} and len(statuses) >= 1
        assert victim not in seen
        assert re.search(rf"worker \d \(pid {victim}\) died \(killed by SIGKILL\); "
                         "starting a new one", server.log), server.log
        for _ in range(20):
            assert requests.post(f"{server.url}/pid", json={}, timeout=10).status_code == 200
    finally:
        code = server.stop()
    assert code == 0


def test_readyz_is_503_until_models_are_loaded(bundle):
    server = Server(str(bundle), "--max-queue", "1", env={"TRUST_LOAD_SECONDS": "3"})
    try:
        server.wait_listening()
        first = wait_until(lambda: server.status("/readyz"), 30, message="an answer")
        assert first == 503
        r = requests.get(f"{server.url}/readyz", timeout=5)
        if r.status_code == 503:  # loading may have ended meanwhile on a slow machine
            assert "models are still loading" in r.json()["error"]
            assert r.headers["Retry-After"] == "1"
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        # A prediction sent while loading waits for the models instead of failing.
        early = requests.post(f"{server.url}/pid", json={}, timeout=30)
        assert early.status_code == 200 and early.json() == server.proc.pid
        server.wait_ready()
        # Once loaded, load never makes the server unready: it sheds with 503 itself.
        shed = []
        callers = [threading.Thread(target=lambda: shed.append(requests.post(
            f"{server.url}/wait", json={"seconds": 0.5}, timeout=30).status_code))
            for _ in range(6)]
        for caller in callers:
            caller.start()
        ready = [server.status("/readyz") for _ in range(10)]
        for caller in callers:
            caller.join(30)
        assert ready == [200] * 10 and 503 in shed and 200 in shed
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("args, message", [
    (["--timeout", "0"], "0 is not in the range x>0"),
    (["--timeout", "soon"], "'soon' is not a valid float"),
    (["--graceful-timeout", "-1"], "-1.0 is not in the range x>=0"),
    (["--max-concurrency", "0"], "0 is not in the range"),
    (["--max-queue", "-2"], "-2 is not in the range"),
    (["--max-image-pixels", "1.5"], "'1.5' is not a valid integer"),
    (["--allow-host", "exa mple"], "'exa mple' is not a host"),
    (["--allow-host", "example.com:8080"], "give the host without a port"),
    (["--cors-origin", "https://app.example.com/path"], "is not an origin"),
    (["--cors-origin", "app.example.com"], "is not an origin"),
    (["--api-key-file", "/no/such/file"], "does not exist"),
])
def test_serve_flag_values_are_checked_with_one_line_errors(bundle, args, message):
    result = bentonb_cli("serve", str(bundle), *args, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("Error")]) == 1


def test_bad_allow_host_from_the_environment_is_checked(bundle):
    exe = Path(sys.executable).with_name("bentonb")
    result = subprocess.run([str(exe), "serve", str(bundle)], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "BENTONB_ALLOW_HOST": "ok.example,b@d"})
    assert result.returncode == 2 and "'b@d' is not a host" in result.stderr


def test_api_key_from_environment_or_file_stays_out_of_ps_and_logs(bundle, tmp_path):
    key = "k3y-from-the-environment"
    server = Server(str(bundle), "--allow-host", "api.example.com",
                    env={"BENTONB_API_KEY": key})
    try:
        server.wait_ready()
        assert key not in " ".join(server.proc.args)
        r = requests.post(f"{server.url}/pid", json={}, timeout=5)
        assert r.status_code == 401
        r = requests.post(f"{server.url}/pid", json={}, timeout=5,
                          headers={"Authorization": f"Bearer {key}", "Host": "api.example.com"})
        assert r.status_code == 200
    finally:
        server.stop()
    assert key not in server.log and "Bearer $BENTONB_API_KEY" in server.log
    key_file = tmp_path / "key"
    key_file.write_text("k3y-from-a-file\n")
    server = Server(str(bundle), "--api-key-file", str(key_file))
    try:
        server.wait_ready()
        assert requests.post(f"{server.url}/pid", json={}, timeout=5).status_code == 401
        r = requests.post(f"{server.url}/pid", json={}, timeout=5,
                          headers={"X-API-Key": "k3y-from-a-file"})
        assert r.status_code == 200
    finally:
        server.stop()
    assert "k3y-from-a-file" not in server.log
    both = bentonb_cli("serve", str(bundle), "--api-key", "x" * 10, "--api-key-file",
                       str(key_file), timeout=60)
    assert both.returncode == 2 and "give --api-key or --api-key-file, not both" in both.stderr


def test_public_bind_without_a_key_prints_a_warning(bundle):
    server = Server(str(bundle), "--host", "0.0.0.0")
    try:
        server.wait_ready()
        r = requests.get(f"{server.url}/healthz", headers={"Host": "rebind.evil.example"},
                         timeout=5)
        assert r.status_code == 403
    finally:
        server.stop()
    assert f"warning: listening on 0.0.0.0:{server.port} without an API key" in server.log
