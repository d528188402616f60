"""Serving benchmark: bentonb against its ceilings and BentoML 1.4, on one machine.

    python bench/serving.py [--duration 10] [--runs 3] [--scenarios iris,synthetic,cifar]
                            [--targets "bentonb (batching),bentonb 1.x (run),..." | 1.x]
    python bench/serving.py --ray ...   # Ray Serve targets: see ray_serving.py

For each workload (see workloads.py) it measures, side by side in one run:
bentonb with micro-batching, bentonb without, a bare Tornado handler returning a
constant (the HTTP ceiling), the raw model in-process at its best batch size
(the model ceiling), and BentoML 1.4.38 with batching on (in its own venv,
``bench/.venv-bentoml``, made on first use). For iris it also serves the
BentoML 1.x API code of onex_services.py (a ``Service`` with a batchable
runner, called with ``run`` and with ``async_run``) by bentonb and by BentoML
1.4.38. Closed loop: wrk, one thread, 64 connections, after a warm-up, median
of ``--runs``. Open loop: requests sent at 50% of each server's own peak rate,
p50/p99 measured from the scheduled send time. Prints a markdown table and
writes ``bench/results/serving.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workloads  # noqa: E402

import bentonb  # noqa: E402
from bentonb.adapters import DataframeInput, ImageInput, JsonInput  # noqa: E402
from bentonb.artifact import PytorchModelArtifact, SklearnModelArtifact  # noqa: E402

BENTOML_VERSION = "1.4.38"
BENTOML_VENV = HERE / ".venv-bentoml"
CONNECTIONS = 64


@bentonb.artifacts([SklearnModelArtifact("model")])
class IrisBench(bentonb.BentoService):
    @bentonb.api(input=DataframeInput())
    def predict(self, df):
        return self.artifacts.model.predict(df.to_numpy())


class SyntheticBench(bentonb.BentoService):
    @bentonb.api(input=JsonInput(), batch=True)
    def predict(self, items):
        return workloads.synthetic_model(items)


@bentonb.artifacts([PytorchModelArtifact("net")])
class CifarBench(bentonb.BentoService):
    @bentonb.api(input=ImageInput(), batch=True, mb_max_batch_size=64)
    def predict(self, images):
        import torch

        with torch.no_grad():
            classes = self.artifacts.net(workloads.cifar_batch(images)).argmax(dim=1)
        return [workloads.CLASSES[c] for c in classes]


@dataclass
class Scenario:
    name: str
    service: object
    content_type: str
    body: bytes
    bentoml_class: str
    bentoml_content_type: str
    bentoml_body: bytes
    items_per_second: callable = None  # the model ceiling
    onex: bool = False  # also served through the 1.x API code of onex_services.py


@dataclass
class Result:
    scenario: str
    target: str
    rps: float = 0.0
    rps_runs: list[float] = field(default_factory=list)
    closed_p50_ms: float | None = None
    closed_p99_ms: float | None = None
    errors: int = 0
    open_rate: float | None = None
    open_p50_ms: float | None = None
    open_p99_ms: float | None = None
    open_errors: int = 0
    note: str = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def multipart(field_name: str, filename: str, content: bytes, media: str) -> tuple[str, bytes]:
    boundary = "benchBoundary7MA4YWxk"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {media}\r\n\r\n").encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


# -- ceilings measured in-process -----------------------------------------------------------

def best_rate(call, make_batch, sizes, seconds: float = 2.0) -> tuple[float, int]:
    """Items per second of ``call`` at its best batch size."""
    best = (0.0, 1)
    for n in sizes:
        batch = make_batch(n)
        call(batch)
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / len(sizes):
            call(batch)
            done += n
        rate = done / (time.perf_counter() - start)
        best = max(best, (rate, n))
    return best


def iris_ceiling() -> tuple[float, int]:
    import numpy as np

    model = workloads.iris_model()
    return best_rate(model.predict, lambda n: np.tile([[5.1, 3.5, 1.4, 0.2]], (n, 1)),
                     [1, 16, 128, 1000])


def synthetic_ceiling() -> tuple[float, int]:
    return best_rate(workloads.synthetic_model, lambda n: [1.0] * n, [1, 100, 1000])


def cifar_ceiling() -> tuple[float, int]:
    import io

    import numpy as np
    import torch
    from PIL import Image

    net = workloads.cifar_net()
    image = np.asarray(Image.open(io.BytesIO(workloads.png_bytes())).convert("RGB"))

    def call(images):
        with torch.no_grad():
            net(workloads.cifar_batch(images)).argmax(dim=1)

    return best_rate(call, lambda n: [image] * n, [1, 8, 32, 64], seconds=4.0)


# -- servers ----------------------------------------------------------------------------------

def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120, body: bytes | None = None,
               content_type: str = "") -> None:
    """Until ``url`` answers 2xx (to a POST of ``body`` when given, else a GET)."""
    deadline = time.time() + timeout
    headers = {"Content-Type": content_type} if body is not None else {}
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=5)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not start")


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


def ensure_bentoml() -> Path:
    python = BENTOML_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {BENTOML_VENV} with bentoml=={BENTOML_VERSION} (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(BENTOML_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"bentoml=={BENTOML_VERSION}",
                        "torch==2.13.0", "scikit-learn", "pillow"], check=True)
    return BENTOML_VENV / "bin" / "bentoml"


def start_onex(target: str, port: int, workdir: Path) -> tuple[subprocess.Popen, str]:
    """Serve onex_services:svc, the 1.x API code, by bentonb or by BentoML 1.4."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if target.startswith("bentonb"):
        python = Path(sys.executable)
        args = [str(python.with_name("bentonb")), "serve", "onex_services:svc", "--port",
                str(port)]
        health = f"http://127.0.0.1:{port}/healthz"
    else:
        bentoml = ensure_bentoml()
        python = bentoml.with_name("python")
        env.update(BENTOML_DO_NOT_TRACK="True", BENCH_1X_FRAMEWORK="bentoml",
                   BENTOML_HOME=str(workdir / "bentoml-home"))
        args = [str(bentoml), "serve", "onex_services:svc", "--port", str(port), "--host",
                "127.0.0.1"]
        health = f"http://127.0.0.1:{port}/readyz"
    # The model is stored before any server process imports the service (as in a
    # deployment, where the model store is filled by training, not by serving).
    subprocess.run([str(python), "onex_services.py", "save"], cwd=HERE, env=env, check=True,
                   **quiet)
    proc = subprocess.Popen(args, cwd=HERE, env=env, **quiet)
    wait_ready(health, proc)
    route = "predict_async" if target.endswith("(async_run)") else "predict"
    return proc, f"http://127.0.0.1:{port}/{route}"


def start(target: str, scenario: Scenario, bundle: Path, port: int,
          workdir: Path) -> tuple[subprocess.Popen, str]:
    if target in ONEX_TARGETS:
        return start_onex(target, port, workdir)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    exe = Path(sys.executable)
    if target.startswith("bentonb"):
        args = [str(exe.with_name("bentonb")), "serve", str(bundle), "--port", str(port)]
        if target == "bentonb (no batching)":
            args.append("--disable-microbatch")
        proc = subprocess.Popen(args, env=env, **quiet)
        health = f"http://127.0.0.1:{port}/healthz"
    elif target == "tornado ceiling":
        proc = subprocess.Popen([str(exe), __file__, "--bare-tornado", str(port)], env=env,
                                **quiet)
        health = f"http://127.0.0.1:{port}/"
    else:
        bentoml = ensure_bentoml()
        env["BENTOML_DO_NOT_TRACK"] = "True"
        service = f"bentoml_services:{scenario.bentoml_class}"
        proc = subprocess.Popen([str(bentoml), "serve", service, "--port", str(port),
                                 "--host", "127.0.0.1"], cwd=HERE, env=env, **quiet)
        health = f"http://127.0.0.1:{port}/readyz"
    wait_ready(health, proc)
    return proc, f"http://127.0.0.1:{port}/predict"


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- load ---------------------------------------------------------------------------------------

def wrk(url: str, content_type: str, body: bytes, seconds: float, workdir: Path,
        connections: int = CONNECTIONS) -> dict:
    body_file = workdir / "body.bin"
    body_file.write_bytes(body)
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*all")\nf:close()\n')
    duration = f"-d{max(1, round(seconds))}s"
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", duration, "--latency",
                          "-s", str(script), url], capture_output=True, text=True,
                         check=True).stdout

    def latency(label: str) -> float | None:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*?timeout (\d+)", out)
    return {"rps": rps, "p50": latency("50"), "p99": latency("99"),
            "errors": int(errors.group(1)) if errors else 0,
            "timeouts": int(socket_errors.group(1)) if socket_errors else 0}


async def open_loop(url: str, content_type: str, body: bytes, rate: float,
                    seconds: float) -> dict:
    """Send at a fixed ``rate``; latency counts from the scheduled send time."""
    host, port_path = url.split("//", 1)[1].split(":", 1)
    port, path = port_path.split("/", 1)
    request = (f"POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    latencies: list[float] = []
    errors = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        while next_index < total:
            index = next_index
            next_index += 1
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - scheduled)
            if b" 200 " not in status_line:
                errors += 1
        writer.close()

    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    latencies.sort()
    return {"p50": latencies[len(latencies) // 2] * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000, "errors": errors}


# -- the run ------------------------------------------------------------------------------------

def scenarios() -> dict[str, Scenario]:
    iris_body = b"[[5.1, 3.5, 1.4, 0.2]]"
    png = workloads.png_bytes()
    media, form = multipart("images", "cat.png", png, "image/png")
    return {
        "iris": Scenario("iris", IrisBench().pack("model", workloads.iris_model()),
                         "application/json", iris_body, "IrisBento", "application/json",
                         b'{"input": [[5.1, 3.5, 1.4, 0.2]]}', iris_ceiling, onex=True),
        "synthetic": Scenario("synthetic", SyntheticBench(), "application/json", b"1.0",
                              "SyntheticBento", "application/json", b'{"input": [1.0]}',
                              synthetic_ceiling),
        "cifar": Scenario("cifar", CifarBench().pack("net", workloads.cifar_net()), "image/png",
                          png, "CifarBento", media, form, cifar_ceiling),
    }


# The 1.x API code (onex_services.py): served by bentonb and by BentoML 1.4, its API
# function calling the batchable runner with run() or with await async_run().
ONEX_TARGETS = ["bentonb 1.x (run)", "bentonb 1.x (async_run)", "BentoML 1.4: 1.x code (run)",
                "BentoML 1.4: 1.x code (async_run)"]
TARGETS = ["bentonb (batching)", "bentonb (no batching)", "tornado ceiling", "BentoML 1.4",
           *ONEX_TARGETS]
# ``--targets 1.x``: the 1.x API against 0.x, BentoML and the HTTP ceiling (use with
# ``--scenarios iris``).
PRESETS = {"1.x": ["bentonb (batching)", "tornado ceiling", "BentoML 1.4", *ONEX_TARGETS]}


def run_target(target: str, scenario: Scenario, bundle: Path, args, workdir: Path) -> Result:
    result = Result(scenario.name, target)
    port = free_port()
    proc, url = start(target, scenario, bundle, port, workdir)
    content_type, body = scenario.content_type, scenario.body
    if target == "BentoML 1.4":
        content_type, body = scenario.bentoml_content_type, scenario.bentoml_body
    try:
        wrk(url, content_type, body, args.warmup, workdir)
        runs = [wrk(url, content_type, body, args.duration, workdir) for _ in range(args.runs)]
        result.rps_runs = [r["rps"] for r in runs]
        median = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
        result.rps = median["rps"]
        result.closed_p50_ms, result.closed_p99_ms = median["p50"], median["p99"]
        result.errors = sum(r["errors"] + r["timeouts"] for r in runs)
        result.open_rate = round(result.rps * 0.5, 1)
        loop = asyncio.run(open_loop(url, content_type, body, result.open_rate, args.duration))
        result.open_p50_ms, result.open_p99_ms = loop["p50"], loop["p99"]
        result.open_errors = loop["errors"]
    finally:
        stop(proc)
    return result


def fmt(value, digits=1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def report(results: list[Result], ceilings: dict[str, tuple[float, int]]) -> str:
    lines = ["| workload | target | req/s (median) | closed p50 ms | closed p99 ms | errors | "
             "open-loop req/s | open p50 ms | open p99 ms |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.scenario} | {r.target} | {fmt(r.rps)} | {fmt(r.closed_p50_ms, 2)} | "
                     f"{fmt(r.closed_p99_ms, 2)} | {r.errors + r.open_errors} | "
                     f"{fmt(r.open_rate)} | {fmt(r.open_p50_ms, 2)} | {fmt(r.open_p99_ms, 2)} |")
    for name, (rate, size) in ceilings.items():
        lines.append(f"| {name} | model ceiling (in-process, batch {size}) | {fmt(rate)} | - | - "
                     "| - | - | - | - |")
    by = {(r.scenario, r.target): r for r in results}
    lines += ["", "| ratio | value | target |", "|---|---:|---|"]

    def ratio(label, a, b, goal):
        if a and b:
            lines.append(f"| {label} | {a / b:.2f}x | {goal} |")

    get = lambda s, t: by[(s, t)].rps if (s, t) in by else None  # noqa: E731
    ratio("iris: batching / tornado ceiling", get("iris", "bentonb (batching)"),
          get("iris", "tornado ceiling"), ">= 0.80x")
    ratio("iris: bentonb / BentoML", get("iris", "bentonb (batching)"),
          get("iris", "BentoML 1.4"), ">= 4x")
    onex = [get("iris", t) or 0 for t in ONEX_TARGETS]
    ratio("iris: bentonb 1.x (faster of run/async_run) / bentonb 0.x (batching)",
          max(onex[:2]), get("iris", "bentonb (batching)"), ">= 0.90x")
    ratio("iris: bentonb 1.x / BentoML 1.4, same 1.x code (each its faster variant)",
          max(onex[:2]), max(onex[2:]), ">= 5x")
    ratio("synthetic: batching / no batching", get("synthetic", "bentonb (batching)"),
          get("synthetic", "bentonb (no batching)"), ">= 5x")
    if "cifar" in ceilings:
        ratio("cifar: batching / model ceiling", get("cifar", "bentonb (batching)"),
              ceilings["cifar"][0], ">= 0.85x")
    for s in ("iris", "synthetic", "cifar"):
        a, b = by.get((s, "bentonb (batching)")), by.get((s, "BentoML 1.4"))
        if a and b and a.open_p99_ms and b.open_p99_ms:
            lines.append(f"| {s}: open-loop p99 bentonb / BentoML | "
                         f"{a.open_p99_ms / b.open_p99_ms:.2f}x | < 1x |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", default="iris,synthetic,cifar")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help="comma-separated target names, or a preset: " + ", ".join(PRESETS))
    parser.add_argument("--ray", action="store_true", help="Ray Serve targets instead: "
                        "see ray_serving.py, which takes the rest of the flags")
    parser.add_argument("--bare-tornado", type=int, help=argparse.SUPPRESS)
    if "--ray" in sys.argv[1:]:
        import ray_serving

        return ray_serving.main()
    args = parser.parse_args()
    if args.bare_tornado:
        bare_tornado(args.bare_tornado)
        return 0
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")
    chosen = scenarios()
    names = [n for n in args.scenarios.split(",") if n]
    wanted = PRESETS.get(args.targets) or args.targets.split(",")
    unknown = [t for t in wanted if t not in TARGETS]
    if unknown:
        sys.exit(f"unknown target(s) {unknown}; the targets: {TARGETS}, presets: {list(PRESETS)}")
    targets = [t for t in TARGETS if t in wanted]
    results, ceilings = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["BENTONB_HOME"] = str(workdir / "store")
        for name in names:
            scenario = chosen[name]
            bundle = Path(scenario.service.save())
            print(f"{name}: measuring the model ceiling ...", flush=True)
            ceilings[name] = scenario.items_per_second()
            for target in targets:
                if target in ONEX_TARGETS and not scenario.onex:
                    continue
                print(f"{name}: {target} ...", flush=True)
                try:
                    results.append(run_target(target, scenario, bundle, args, workdir))
                except (RuntimeError, subprocess.CalledProcessError) as exc:
                    results.append(Result(name, target, note=f"failed: {exc}"))
                print(f"   {results[-1].rps:,.0f} req/s", flush=True)
    table = report(results, ceilings)
    print()
    print(f"CPU: {os.cpu_count()} cores; wrk -t1 -c{CONNECTIONS}; {args.runs} runs of "
          f"{args.duration:g}s after {args.warmup:g}s warm-up; open loop at 50% of each "
          "server's own peak.\n")
    print(table)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "serving.json").write_text(json.dumps({
        "results": [asdict(r) for r in results],
        "ceilings": {k: {"items_per_second": v[0], "batch_size": v[1]}
                     for k, v in ceilings.items()},
        "settings": vars(args), "cpus": os.cpu_count()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
