"""Measuring one target on one workload across connection counts (closed loop, wrk).

Each target is started once per workload, warmed up, then driven at each
concurrency in turn: one run per point, the median of ``runs`` at the
reference concurrency (64), and optionally an open loop at half its peak.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import load
import targets
from scenarios import Scenario

REFERENCE_C = 64  # where ratios are taken and runs are repeated


@dataclass
class Plan:
    """How hard and how long to measure."""

    concurrencies: list[int]
    duration: float = 5.0
    warmup: float = 2.0
    runs: int = 3  # at REFERENCE_C; one run elsewhere
    open_loop: bool = True
    create_venvs: bool = True


@dataclass
class Point:
    """One concurrency: 2xx answers/s (median of runs), that run's p50/p99 in ms (wrk's, of
    all answers), errors (non-2xx and socket errors) over all runs."""

    connections: int
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    rps_runs: list[float] = field(default_factory=list)
    #: Server CPU time (all its processes) per answered request, in µs, over the runs:
    #: unlike req/s, barely moved by other work on the machine.
    cpu_us: float | None = None


@dataclass
class Result:
    scenario: str
    target: str
    points: list[Point] = field(default_factory=list)
    open_rate: float | None = None
    open_p50_ms: float | None = None
    open_p99_ms: float | None = None
    open_errors: int = 0
    note: str = ""  # why there are no points (not installed, did not start)

    def at(self, connections: int) -> Point | None:
        return next((p for p in self.points if p.connections == connections), None)


# What each workload is served by: peers have code for iris and cifar only, and the
# synthetic workload is there for bentonb's batching ratio (c=64 only).
PEER_SCENARIOS = ("iris", "cifar")
SYNTHETIC_TARGETS = ("bentonb (batching)", "bentonb (no batching)")


def points_for(scenario: str, target: str, concurrencies: list[int]) -> list[int]:
    """The concurrencies ``target`` is measured at on ``scenario`` (empty: not at all)."""
    reference_only = [c for c in concurrencies if c == REFERENCE_C]
    if scenario.startswith("synthetic"):
        return reference_only if target in SYNTHETIC_TARGETS else []
    if target == "bentonb (2 workers)" or target in targets.ONEX_TARGETS:
        return reference_only if scenario == "iris" else []
    if target.split()[0] in ("BentoML", "LitServe", "MLServer"):
        return concurrencies if scenario in PEER_SCENARIOS else []
    return concurrencies


def measure(target: str, scenario: Scenario, bundle: Path, plan: Plan, workdir: Path,
            concurrencies: list[int]) -> Result:
    """Start ``target``, drive it at each of ``concurrencies``, stop it."""
    result = Result(scenario.name, target)
    try:
        server = targets.start(target, scenario.name, bundle, workdir, plan.create_venvs)
    except (targets.Unavailable, subprocess.CalledProcessError) as exc:
        result.note = str(exc)
        return result
    body = scenario.body(server.body_kind)
    try:
        load.wrk(server.url, body, plan.warmup, max(concurrencies), workdir)
        for c in concurrencies:
            cpu = server.cpu_seconds()
            runs = [load.wrk(server.url, body, plan.duration, c, workdir)
                    for _ in range(plan.runs if c == REFERENCE_C else 1)]
            cpu = server.cpu_seconds() - cpu
            answered = sum(r["requests"] for r in runs)
            median = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
            result.points.append(Point(c, median["rps"], median["p50"], median["p99"],
                                       sum(r["errors"] for r in runs),
                                       [r["rps"] for r in runs],
                                       round(cpu / answered * 1e6, 1) if answered else None))
            print(f"   c={c:<4} {median['rps']:>9,.0f} req/s  p99 {median['p99'] or 0:,.1f} ms"
                  f"  errors {result.points[-1].errors}", flush=True)
        reference = result.at(REFERENCE_C)
        if plan.open_loop and reference and reference.rps > 0:
            result.open_rate = round(reference.rps * 0.5, 1)
            loop = load.open_loop(server.url, body, result.open_rate, plan.duration)
            result.open_p50_ms, result.open_p99_ms = loop["p50"], loop["p99"]
            result.open_errors = loop["errors"]
    except subprocess.CalledProcessError as exc:
        result.note = f"load failed: {exc}"
    finally:
        server.stop()
    return result
