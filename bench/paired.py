"""Goal ratios from alternating runs: two measures taken in turn, pair after pair.

The sweep measures one server after another, minutes apart, and this machine
drifts by tens of percent over minutes; a ratio of two figures taken at
different times carries that drift. Here both sides are measured in turn, the
order swapped every pair, and the ratio is taken within each pair: the report
gives the median ratio and the range.

- iris, c=64: bentonb's req/s over the bare Tornado echo's (both servers up), and
  the echo's server CPU per request over bentonb's in the same runs;
- iris, c=1: bentonb's p50 over the echo's, and the model's own call (a one-row
  DataFrame built and ``SVC.predict``, timed in-process as the server makes it
  between requests) over the echo's p50: the part of the wait that is the model's;
- CIFAR, c=64: bentonb's images/s over the in-process model ceiling (its best batch
  size among 1, 8, 32 and 64, tried for the same time in all).

The model's own call is timed once per pair, after the pairs of servers.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ceilings
import load
import targets
from scenarios import Scenario


@dataclass
class Pairs:
    """One goal ratio over alternating pairs: each pair's (a, b) and a / b."""

    name: str
    unit: str
    a_label: str
    b_label: str
    pairs: list[tuple[float, float]] = field(default_factory=list)
    note: str = ""

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in self.pairs if b]

    @property
    def median(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None


def alternate(pairs: int, a: Callable[[], Any], b: Callable[[], Any]) -> list[tuple[Any, Any]]:
    """``pairs`` measures of a and b in turn, b first in every other pair."""
    taken = []
    for number in range(pairs):
        if number % 2:
            second = b()
            taken.append((a(), second))
        else:
            first = a()
            taken.append((first, b()))
    return taken


def model_call_ms(repeats: int = 500) -> float:
    """Median ms of the iris API's own work on one row in a tight loop (warm caches: a
    lower bound of its share in a server): the one-row frame built from an array, as
    the server builds it, and the API's ``predict(df.to_numpy())``."""
    import numpy as np
    import pandas as pd
    import workloads

    model = workloads.iris_model()
    row = [[5.1, 3.5, 1.4, 0.2]]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(pd.DataFrame(np.array(row, dtype=float)).to_numpy())
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(scenarios: dict[str, Scenario], bundles: dict[str, Path], workdir: Path,
            pairs: int, seconds: float) -> list[Pairs]:
    results = []
    if "iris" in bundles:
        results += _iris(scenarios["iris"], bundles["iris"], workdir, pairs, seconds)
    if "cifar" in bundles:
        results.append(_cifar(scenarios["cifar"], bundles["cifar"], workdir, pairs, seconds))
    return results


def _iris(scenario: Scenario, bundle: Path, workdir: Path, pairs: int,
          seconds: float) -> list[Pairs]:
    print(f"iris: bentonb and the echo in turn, {pairs} pairs ...", flush=True)
    rps = Pairs("iris, c=64, req/s", "req/s", "bentonb (batching)", "tornado echo")
    p50 = Pairs("iris, c=1, p50", "ms", "bentonb (batching)", "tornado echo")
    model = Pairs("iris, c=1: the model's own call / the echo's p50", "ms",
                  "one-row frame + SVC.predict in-process (tight loop)", "tornado echo")
    # Server CPU per answered request in the same c=64 runs: barely moved by the load
    # generator's share of the cores, unlike req/s. Given echo / bentonb, as req/s is.
    cpu = Pairs("iris, c=64, server CPU per request", "µs", "tornado echo",
                "bentonb (batching)")
    servers = []
    try:
        for target in ("bentonb (batching)", "tornado echo"):
            servers.append(targets.start(target, "iris", bundle, workdir, create_venvs=False))
        ours, echo = servers
        for server in servers:
            load.wrk(server.url, scenario.body(server.body_kind), 2, 64, workdir)

        def measured(server: targets.Server, connections: int) -> Callable[[], dict]:
            """One wrk run against ``server``, with its CPU µs per answered request."""
            body = scenario.body(server.body_kind)

            def once() -> dict:
                used = server.cpu_seconds()
                answer = load.wrk(server.url, body, seconds, connections, workdir)
                answer["cpu_us"] = ((server.cpu_seconds() - used)
                                    / max(1, answer["requests"]) * 1e6)
                return answer
            return once

        busy = alternate(pairs, measured(ours, 64), measured(echo, 64))
        rps.pairs = [(a["rps"], b["rps"]) for a, b in busy]
        cpu.pairs = [(b["cpu_us"], a["cpu_us"]) for a, b in busy]
        lone = alternate(pairs, measured(ours, 1), measured(echo, 1))
        p50.pairs = [(a["p50"], b["p50"]) for a, b in lone]
        model.pairs = [(model_call_ms(), echo_p50) for _, echo_p50 in p50.pairs]
    except (targets.Unavailable, OSError) as exc:
        rps.note = p50.note = model.note = cpu.note = str(exc)
    finally:
        for server in servers:
            server.stop()
    return [rps, cpu, p50, model]


def _cifar(scenario: Scenario, bundle: Path, workdir: Path, pairs: int,
           seconds: float) -> Pairs:
    print(f"cifar: bentonb and the in-process ceiling in turn, {pairs} pairs ...", flush=True)
    result = Pairs("CIFAR, c=64, images/s", "images/s", "bentonb (batching)",
                   "model in-process, best batch")
    try:
        server = targets.start("bentonb (batching)", "cifar", bundle, workdir,
                               create_venvs=False)
    except (targets.Unavailable, OSError) as exc:
        result.note = str(exc)
        return result
    try:
        body = scenario.body(server.body_kind)
        load.wrk(server.url, body, 2, 64, workdir)
        result.pairs = alternate(
            pairs, lambda: load.wrk(server.url, body, seconds, 64, workdir)["rps"],
            lambda: ceilings.cifar_ceiling(seconds)[0])
    finally:
        server.stop()
    return result


def table(results: list[Pairs]) -> str:
    lines = ["| alternating pairs | median ratio | range | each pair (a / b) |",
             "|---|---:|---|---|"]
    for r in results:
        if r.median is None:
            lines.append(f"| {r.name} | | | {r.note or 'not measured'} |")
            continue
        each = "; ".join(f"{a:,.2f} / {b:,.2f}" if r.unit == "ms" else f"{a:,.0f} / {b:,.0f}"
                         for a, b in r.pairs)
        lines.append(f"| {r.name}: {r.a_label} / {r.b_label} | {r.median:.2f}x | "
                     f"{min(r.ratios):.2f}-{max(r.ratios):.2f}x | {each} ({r.unit}) |")
    return "\n".join(lines)
