"""The servers the benchmark compares: how each is installed, started, probed and stopped.

bentonb runs from this venv; each peer (BentoML, LitServe, MLServer) from its
own venv under bench/, made on first use with pinned versions. A peer that
cannot be installed or started is reported as such, never fails the run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
sys.path.insert(0, str(PEERS))

import mlserver_settings  # noqa: E402

TORCH = "torch==2.13.0"  # the CPU wheel bentonb's venv has


@dataclass(frozen=True)
class Venv:
    """A peer's own virtual environment, with the pinned packages it needs."""

    name: str
    packages: tuple[str, ...]

    @property
    def path(self) -> Path:
        return HERE / f".venv-{self.name}"

    def bin(self, exe: str) -> Path:
        return self.path / "bin" / exe


VENVS = {
    "bentoml": Venv("bentoml", ("bentoml==1.4.38", TORCH, "scikit-learn", "pillow")),
    "litserve": Venv("litserve", ("litserve==0.2.19", TORCH, "scikit-learn", "pillow")),
    # uvloop 0.21+ breaks MLServer 1.7.1's inference workers (no event loop in the
    # worker's main thread), so its venv keeps an older one.
    "mlserver": Venv("mlserver", ("mlserver==1.7.1", "uvloop<0.21", TORCH, "scikit-learn",
                                  "pillow")),
}


class Unavailable(RuntimeError):
    """A target that cannot be measured here (not installed, or did not start)."""


def ensure_venv(venv: Venv, create: bool) -> None:
    """Make ``venv`` with its packages unless a stamp says it is done; raise Unavailable."""
    stamp = venv.path / "bench-installed.txt"
    wanted = "\n".join(venv.packages)
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not create:
        raise Unavailable(f"not installed ({venv.path.name} missing; a full run makes it)")
    print(f"installing {', '.join(venv.packages)} into {venv.path} (once) ...", flush=True)
    try:
        if not venv.bin("python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv.path)], check=True)
        subprocess.run([str(venv.bin("python")), "-m", "pip", "install", "-q", *venv.packages],
                       check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or "").strip().splitlines()[-1:] or [str(exc)]
        raise Unavailable(f"did not install: {tail[0][:120]}") from exc
    stamp.write_text(wanted)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_cpu_seconds(pid: int | str) -> float:
    """CPU time (user + system) one process has used so far, from /proc (OSError once
    it has gone)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """A started server: its process (leader of its own process group) and where to POST."""

    proc: subprocess.Popen
    url: str
    body_kind: str  # which body of the scenario it is sent (see scenarios.Scenario.bodies)

    def rss_kb(self) -> int:
        """Resident memory of the server and all its child processes, in kB (VmRSS)."""
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(next(ln.split()[1] for ln in status.splitlines()
                                  if ln.startswith("VmRSS:")))
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (OSError, StopIteration):
                continue
        return total

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and its child processes."""
        total, todo = 0.0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                total += process_cpu_seconds(pid)
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (OSError, IndexError, ValueError):
                continue
        return total

    def stop(self) -> None:
        """SIGINT to the whole process group (peers run worker processes), then SIGKILL."""
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    """Poll ``url`` until it answers 200; raise Unavailable if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise Unavailable(f"server at {url} not ready within {timeout:g}s")


def popen(args: list[str], cwd: Path | None = None, env: dict | None = None,
           log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (the child owns it)
    return subprocess.Popen(args, cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                                 **(env or {})},
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def bentonb_args(bundle: Path, port: int, *extra: str) -> list[str]:
    return [str(Path(sys.executable).with_name("bentonb")), "serve", str(bundle), "--port",
            str(port), *extra]


BENTONB_FLAGS = {"bentonb (batching)": (), "bentonb (no batching)": ("--disable-microbatch",),
                 "bentonb (2 workers)": ("--workers", "2")}


# The 1.x API code (onex_services.py): served by bentonb and by BentoML 1.4, its API
# function calling the batchable runner with run() or with await async_run().
ONEX_TARGETS = ("bentonb 1.x (run)", "bentonb 1.x (async_run)", "BentoML 1.4: 1.x code (run)",
                "BentoML 1.4: 1.x code (async_run)")


def start_onex(target: str, port: int, workdir: Path, create_venvs: bool) -> Server:
    """Serve onex_services:svc, the 1.x API code, by bentonb or by BentoML 1.4."""
    base = f"http://127.0.0.1:{port}"
    env: dict[str, str] = {}
    if target.startswith("bentonb"):
        python = Path(sys.executable)
        args = [str(python.with_name("bentonb")), "serve", "onex_services:svc", "--port",
                str(port)]
    else:
        ensure_venv(VENVS["bentoml"], create_venvs)
        python = VENVS["bentoml"].bin("python")
        env = {"BENTOML_DO_NOT_TRACK": "True", "BENCH_1X_FRAMEWORK": "bentoml",
               "BENTOML_HOME": str(workdir / "bentoml-home")}
        args = [str(python.with_name("bentoml")), "serve", "onex_services:svc", "--port",
                str(port), "--host", "127.0.0.1"]
    # The model is stored before any server process imports the service (as in a
    # deployment, where the model store is filled by training, not by serving).
    subprocess.run([str(python), "onex_services.py", "save"], cwd=HERE, check=True,
                   env={**os.environ, **env}, capture_output=True)
    proc = popen(args, cwd=HERE, env=env)
    route = "predict_async" if target.endswith("(async_run)") else "predict"
    server = Server(proc, f"{base}/{route}", "bentonb")
    try:
        wait_ready(f"{base}/readyz", proc)
    except Unavailable:
        server.stop()
        raise
    return server


def start(target: str, workload: str, bundle: Path, workdir: Path, create_venvs: bool,
          ready_timeout: float = 180) -> Server:
    """Start ``target`` serving ``workload`` and wait until its model answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = workdir / f"{workload}-{target.split()[0].lower()}.log"
    if target in ONEX_TARGETS:
        return start_onex(target, port, workdir, create_venvs)
    if target in BENTONB_FLAGS:
        proc = popen(bentonb_args(bundle, port, *BENTONB_FLAGS[target]), log=log)
        server, health = Server(proc, f"{base}/predict", "bentonb"), f"{base}/readyz"
    elif target == "tornado echo":
        proc = popen([sys.executable, str(HERE / "serving.py"), "--bare-tornado", str(port)])
        server, health = Server(proc, f"{base}/predict", "bentonb"), f"{base}/"
    elif target.startswith("BentoML"):
        venv = VENVS["bentoml"]
        ensure_venv(venv, create_venvs)
        service = f"bentoml_services:{workload.capitalize()}Bento"
        proc = popen([str(venv.bin("bentoml")), "serve", service, "--port", str(port),
                       "--host", "127.0.0.1"], cwd=HERE, env={"BENTOML_DO_NOT_TRACK": "True"},
                      log=log)
        server, health = Server(proc, f"{base}/predict", "bentoml"), f"{base}/readyz"
    elif target.startswith("LitServe"):
        venv = VENVS["litserve"]
        ensure_venv(venv, create_venvs)
        proc = popen([str(venv.bin("python")), str(PEERS / "litserve_server.py"), workload,
                       str(port)], env={"LITSERVE_DISABLE_TELEMETRY": "1"}, log=log)
        server, health = Server(proc, f"{base}/predict", "litserve"), f"{base}/health"
    elif target.startswith("MLServer"):
        venv = VENVS["mlserver"]
        ensure_venv(venv, create_venvs)
        repo = mlserver_settings.write_model_repository(
            workdir / f"mlserver-{workload}", workload, port, free_port(), free_port())
        proc = popen([str(venv.bin("mlserver")), "start", str(repo)],
                      env={"PYTHONPATH": str(PEERS)}, log=log)
        server = Server(proc, f"{base}/v2/models/{workload}/infer", "mlserver")
        health = f"{base}/v2/models/{workload}/ready"
    else:
        raise ValueError(f"unknown target {target!r}")
    try:
        wait_ready(health, proc, ready_timeout)
    except Unavailable:
        server.stop()
        raise
    return server


def bare_tornado(port: int) -> None:
    """The HTTP ceiling: a Tornado handler that answers a constant."""
    import tornado.ioloop
    import tornado.web

    class Constant(tornado.web.RequestHandler):
        def post(self, _):
            self.set_header("Content-Type", "application/json")
            self.finish(b"[0]")

        def get(self, _):
            self.finish(b"ok")

    tornado.web.Application([(r"/(.*)", Constant)], log_function=lambda h: None).listen(
        port, "127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
