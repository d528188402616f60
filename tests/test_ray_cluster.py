"""Ray Serve from the two other doors: `bentonb serve --ray --address` onto a Ray cluster
that bentonb did not start (and must leave running), and `%bento_serve --ray` in an
IPython shell. Real Ray on loopback, a real iris SVC, real HTTP; afterwards no Ray
process of either is left.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest
import requests
from helpers import bentonb_cli, free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
RAY_LINE = re.compile(r"bentonb serving (\S+) on Ray Serve at (http://127\.0\.0\.1:\d+) \(")
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
# Ray's token authentication, as an operator hands it to the cluster's users (through
# the environment; a token of this test's own, never the one in ~/.ray).
AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}

# A Ray head as an operator starts one for several users: its own process, its own
# temporary directory, on loopback. It prints its GCS address and serves until SIGTERM,
# then shuts down every Ray process it started.
HEAD = textwrap.dedent('''
    import signal, sys, threading
    import ray

    context = ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
                       _temp_dir=sys.argv[1], configure_logging=False)
    print("GCS", context.address_info["gcs_address"], flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    ray.shutdown()
    print("HEAD DOWN", flush=True)
''')


def descendants(root: int) -> dict[int, str]:
    """The live processes below ``root`` (children, their children, ...), by pid, with
    their start time (to tell a pid reused later apart)."""
    parents: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z":  # a zombie has exited; only its parent's wait is missing
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
        started[int(entry.name)] = fields[19]
    found, todo = {}, [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found[child] = started[child]
            todo.append(child)
    return found


def still_alive(processes: dict[int, str]) -> list[int]:
    alive = []
    for pid, start in processes.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and fields[19] == start:
            alive.append(pid)
    return alive


def predict(url: str) -> tuple[int, object]:
    r = requests.post(f"{url}/predict", json=ROWS, timeout=30)
    return r.status_code, r.json()


@pytest.fixture
def ray_head(tmp_path):
    """An external Ray head (a subprocess of this test); its GCS address."""
    # Ray's socket paths must stay short: a directory of its own directly under /tmp.
    temp_dir = tempfile.mkdtemp(prefix="ray-ext-", dir="/tmp")
    head = subprocess.Popen([sys.executable, "-c", HEAD, temp_dir], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, **LOOPBACK, **AUTH})
    head.lines = []
    reader = threading.Thread(target=lambda: head.lines.extend(head.stdout), daemon=True)
    reader.start()

    def address() -> str | None:
        found = [line.split()[1] for line in head.lines if line.startswith("GCS ")]
        assert found or head.poll() is None, "".join(head.lines)
        return found[0] if found else None

    try:
        head.address = wait_until(address, 120, message="the Ray head's address")
        yield head
    finally:
        if head.poll() is None:
            head.terminate()
            head.wait(120)


def test_address_deploys_onto_a_cluster_it_then_leaves_running(ray_head, iris_service,
                                                               iris_model, monkeypatch):
    iris_service.save()
    for name, value in AUTH.items():  # only the token: bentonb keeps 127.0.0.1 by itself
        monkeypatch.setenv(name, value)
    port = free_port()  # Serve's proxy is told its port; it cannot bind port 0
    result = bentonb_cli("serve", "IrisClassifier:latest", "--ray", "--address",
                         ray_head.address, "--port", str(port), "--replicas", "2",
                         timeout=180)
    # With --address the command deploys and returns; the application stays up.
    assert result.returncode == 0, result.stderr[-3000:]
    match = RAY_LINE.search(result.stderr)
    assert match, result.stderr[-3000:]
    tag, url = match.groups()
    assert tag == f"IrisClassifier:{iris_service.version}"
    assert url == f"http://127.0.0.1:{port}" and "(2 replicas)" in result.stderr
    assert f"serve shutdown --address {ray_head.address}" in result.stderr
    expected = iris_model.predict(ROWS).tolist()
    assert predict(url) == (200, expected)

    # bentonb is gone and did not take the cluster with it: the head, its raylet and the
    # Serve replicas still run and answer.
    assert ray_head.poll() is None
    ray_processes = descendants(ray_head.pid)
    names = " ".join(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                     for pid in still_alive(ray_processes))
    assert "raylet" in names and "gcs_server" in names
    assert predict(url) == (200, expected)

    ray_head.terminate()
    assert ray_head.wait(120) == 0
    wait_until(lambda: "HEAD DOWN\n" in ray_head.lines, 30, message="the head's last line")
    wait_until(lambda: not still_alive(ray_processes), 60,
               message=lambda: f"Ray processes {still_alive(ray_processes)} to exit")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}/predict", json=ROWS, timeout=5)


IRIS_CELL = '''
import bentonb
from bentonb.adapters import DataframeInput
from bentonb.artifact import SklearnModelArtifact

@bentonb.env(infer_pip_packages=True)
@bentonb.artifacts([SklearnModelArtifact('model')])
class RayMagicIris(bentonb.BentoService):
    @bentonb.api(input=DataframeInput(), batch=True)
    def predict(self, df):
        return self.artifacts.model.predict(df)
'''


def test_bento_serve_ray_in_an_ipython_shell(capsys):
    """The notebook flow: train, %%bento_service, %bento_pack, %bento_serve --ray, call
    the URL it printed, stop Ray as the message says; no Ray process is left."""
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance(history_length=0, history_load_length=0)
    try:
        ip.run_line_magic("load_ext", "bentonb")
        trained = ip.run_cell("from sklearn import datasets, svm\n"
                              "iris = datasets.load_iris()\n"
                              "clf = svm.SVC(gamma='scale').fit(iris.data, iris.target)")
        assert trained.success
        assert ip.run_cell(f"%%bento_service\n{IRIS_CELL}").success
        assert ip.run_cell("svc = %bento_pack RayMagicIris model=clf").success
        svc = ip.user_ns["svc"]
        port = free_port()
        # Processes this test process had already (other tests' helpers) are not Ray's.
        before = descendants(os.getpid())
        served = ip.run_cell(f"url = %bento_serve svc --ray --port {port}")
        assert served.success, served.error_in_exec
        url = ip.user_ns["url"]
        printed = capsys.readouterr().out
        assert url == f"http://127.0.0.1:{port}"
        assert f"serving on Ray Serve at {url} (1 replica);" in printed
        assert "serve.shutdown()" in printed
        assert svc.bundle_path is not None  # the packed service was saved, then deployed
        expected = ip.user_ns["clf"].predict(ROWS).tolist()
        assert predict(url) == (200, expected)

        ray_processes = {pid: start for pid, start in descendants(os.getpid()).items()
                         if before.get(pid) != start}
        assert ray_processes
        stopped = ip.run_cell("from ray import serve\nserve.shutdown()\n"
                              "import ray\nray.shutdown()")
        assert stopped.success
        wait_until(lambda: not still_alive(ray_processes), 60,
                   message=lambda: f"Ray processes {still_alive(ray_processes)} to exit")
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{url}/predict", json=ROWS, timeout=5)
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        InteractiveShell.clear_instance()
