"""Start-up and memory of the served iris bundle, and the cost of ``import bentonb``.

- cold start: ``bentonb serve BUNDLE`` from process start to the first 200 on
  ``/readyz`` (model loaded), median of N starts, with bentonb's bytecode cached as
  after its first run;
- memory: VmRSS of the server process (and any children) after a first batch
  of requests and again after many more, at 64 connections: a ratio near 1
  means nothing grows per request;
- import: ``import bentonb`` in fresh interpreters, over a bare ``python -c pass``;
  and the model's own framework (``import sklearn.svm``, what unpickling the iris
  model imports): the part of the cold start no server can avoid.
"""

from __future__ import annotations

import compileall
import statistics
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import import_time
import load
import targets
from scenarios import Body

import bentonb


@dataclass
class Footprint:
    cold_start_s: list[float]
    import_ms: float
    bare_python_ms: float
    rss_first_kb: int
    rss_last_kb: int
    requests_first: int
    requests_last: int
    framework_import_ms: float = 0.0  # ``import sklearn.svm`` in a fresh interpreter

    @property
    def cold_start_median_s(self) -> float:
        return statistics.median(self.cold_start_s)

    @property
    def rss_ratio(self) -> float:
        return self.rss_last_kb / self.rss_first_kb if self.rss_first_kb else 0.0


def cold_start(bundle: Path, starts: int) -> list[float]:
    """Seconds from Popen to the first 200 on /readyz, for each of ``starts`` fresh servers."""
    times = []
    for _ in range(starts):
        port = targets.free_port()
        begin = time.perf_counter()
        proc = targets.popen(targets.bentonb_args(bundle, port))
        server = targets.Server(proc, "", "bentonb")
        try:
            deadline = begin + 120
            while time.perf_counter() < deadline:
                if proc.poll() is not None:
                    raise targets.Unavailable(f"bentonb serve exited with {proc.returncode}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz",
                                                timeout=1) as answer:
                        if answer.status == 200:
                            times.append(time.perf_counter() - begin)
                            break
                except OSError:
                    time.sleep(0.005)  # polling step: the resolution of the measurement
        finally:
            server.stop()
    return times


def memory(bundle: Path, body: Body, first: int, total: int,
           workdir: Path) -> tuple[int, int, int, int]:
    """RSS (kB) after about ``first`` requests and after about ``total``; and the counts."""
    server = targets.start("bentonb (batching)", "iris", bundle, workdir, create_venvs=False)
    try:
        load.closed_count(server.url, body, first)
        rss_first = server.rss_kb()
        load.closed_count(server.url, body, total - first)
        return rss_first, server.rss_kb(), first, total
    finally:
        server.stop()


FRAMEWORK = "import sklearn.svm"


def import_cost(runs: int) -> tuple[float, float, float]:
    """Median wall ms of ``import bentonb``, of ``python -c pass`` and of the iris
    model's framework, each in fresh interpreters."""
    for code in ("pass", "import bentonb", FRAMEWORK):
        import_time.wall_ms(code)  # warm the file system cache
    bare = statistics.median(import_time.wall_ms("pass") for _ in range(runs))
    full = statistics.median(import_time.wall_ms("import bentonb") for _ in range(runs))
    framework = statistics.median(import_time.wall_ms(FRAMEWORK) for _ in range(max(3, runs // 3)))
    return full, bare, framework


def measure(bundle: Path, body: Body, workdir: Path, starts: int = 5,
            requests: tuple[int, int] = (1000, 100_000), import_runs: int = 15) -> Footprint:
    print(f"footprint: cold start x{starts}, import x{import_runs}, RSS after "
          f"{requests[0]:,} and {requests[1]:,} requests ...", flush=True)
    # bentonb's bytecode cached, as after its first run or a pip install (an environment
    # with PYTHONDONTWRITEBYTECODE set would otherwise compile it at every start).
    compileall.compile_dir(Path(bentonb.__file__).parent, quiet=1)
    starts_s = cold_start(bundle, starts)
    full, bare, framework = import_cost(import_runs)
    rss_first, rss_last, n_first, n_last = memory(bundle, body, *requests, workdir)
    return Footprint(starts_s, full, bare, rss_first, rss_last, n_first, n_last, framework)
