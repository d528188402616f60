"""The serving benchmark's report: markdown tables, ratios, PNG plots and the JSON file.

Plots use matplotlib's Agg backend (no display): per workload, req/s and p99
against the number of connections (log x axis), one line per target.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from ceilings import LinearCost
from footprint import Footprint
from sweep import REFERENCE_C, Point, Result

BENTONB = "bentonb (batching)"


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def sweep_table(results: list[Result], scenario: str, concurrencies: list[int]) -> str:
    """Rows: targets; columns: req/s and p99 ms at each concurrency; errors summed."""
    head = "| target | " + " | ".join(f"c={c} req/s | c={c} p99 ms" for c in concurrencies)
    lines = [head + " | errors |", "|---|" + "---:|---:|" * len(concurrencies) + "---:|"]
    for r in (r for r in results if r.scenario == scenario):
        if not r.points:
            lines.append(f"| {r.target} | {r.note} |" + " |" * (2 * len(concurrencies)))
            continue
        cells = []
        for c in concurrencies:
            p = r.at(c)
            cells += [fmt(p.rps, 0), fmt(p.p99_ms, 1)] if p else ["", ""]
        errors = sum(p.errors for p in r.points) + r.open_errors
        lines.append(f"| {r.target} | " + " | ".join(cells) + f" | {errors} |")
    return "\n".join(lines)


def reference_table(results: list[Result], ceilings: dict[str, tuple[float, int]]) -> str:
    """The c=64 detail: median req/s, closed-loop p50/p99, and the open loop at half peak."""
    lines = [f"| workload | target | req/s (c={REFERENCE_C}, median) | p50 ms | p99 ms | errors"
             " | server CPU µs/request | open-loop req/s | open p50 ms | open p99 ms |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        p = r.at(REFERENCE_C)
        if p:
            lines.append(f"| {r.scenario} | {r.target} | {fmt(p.rps)} | {fmt(p.p50_ms, 2)} | "
                         f"{fmt(p.p99_ms, 2)} | {p.errors + r.open_errors} | "
                         f"{fmt(getattr(p, 'cpu_us', None), 0)} | {fmt(r.open_rate)}"
                         f" | {fmt(r.open_p50_ms, 2)} | {fmt(r.open_p99_ms, 2)} |")
    for name, (rate, size) in ceilings.items():
        lines.append(f"| {name} | model ceiling (in-process, batch {size}) | {fmt(rate)} | - | - "
                     "| - | - | - | - | - |")
    return "\n".join(lines)


def ratios(results: list[Result], ceilings: dict[str, tuple[float, int]],
           fit: LinearCost | None, chosen: dict) -> list[dict]:
    """Each ratio as {label, value, goal}; a ratio whose inputs were not measured is left out."""
    by = {(r.scenario, r.target): r for r in results}

    def point(s: str, t: str, c: int = REFERENCE_C):
        return by[(s, t)].at(c) if (s, t) in by else None

    def rps(s: str, t: str) -> float | None:
        p = point(s, t)
        return p.rps if p else None

    rows: list[dict] = []

    def add(label: str, a: float | None, b: float | None, goal: str = "") -> None:
        if a and b:
            rows.append({"label": label, "value": a / b, "goal": goal})

    add("iris: batching / tornado echo", rps("iris", BENTONB), rps("iris", "tornado echo"),
        ">= 0.80x")
    cpu, echo_cpu = point("iris", BENTONB), point("iris", "tornado echo")
    add("iris: server CPU per request, tornado echo / bentonb (batching)",
        echo_cpu and echo_cpu.cpu_us, cpu and cpu.cpu_us)
    for peer, goal in (("BentoML 1.4", ">= 5x"), ("MLServer 1.7", ">= 2.5x"),
                       ("LitServe 0.2", ">= 3x")):
        for s in ("iris", "cifar"):
            add(f"{s}: bentonb / {peer}", rps(s, BENTONB), rps(s, peer),
                goal if s == "iris" else "")
    for name in ("synthetic", "synthetic16"):
        k = chosen[name].items_per_request
        what = f"{name} ({k} item{'s' if k > 1 else ''} per request)"
        add(f"{what}: batching / no batching", rps(name, BENTONB),
            rps(name, "bentonb (no batching)"), ">= 5x" if k == 1 else "")
        if fit:
            # Items per second against ideal batching at the largest batch the load allows.
            n = min(chosen[name].max_batch_size, REFERENCE_C * k)
            served = rps(name, BENTONB)
            add(f"{what}: batching / ideal batching, items/s (fitted T(n) = "
                f"{fit.a_s * 1e3:.2f} ms + {fit.b_s * 1e3:.3f} ms·n, at n = {n})",
                served and served * k, fit.ideal_rate(n), ">= 0.80x")
    add("synthetic (1 item per request): batching / tornado echo (the HTTP ceiling)",
        rps("synthetic", BENTONB), rps("iris", "tornado echo"))
    if "cifar" in ceilings:
        add("cifar: batching / model ceiling", rps("cifar", BENTONB), ceilings["cifar"][0],
            ">= 0.90x")
    one, echo = point("iris", BENTONB, 1), point("iris", "tornado echo", 1)
    add("iris: p50 at c=1, bentonb / tornado echo", one and one.p50_ms, echo and echo.p50_ms,
        "<= 1.2x")
    add("iris: --workers 2 / one worker", rps("iris", "bentonb (2 workers)"), rps("iris", BENTONB))
    onex = [rps("iris", t) or 0 for t in ("bentonb 1.x (run)", "bentonb 1.x (async_run)",
                                          "BentoML 1.4: 1.x code (run)",
                                          "BentoML 1.4: 1.x code (async_run)")]
    add("iris: bentonb 1.x (faster of run/async_run) / bentonb 0.x", max(onex[:2]),
        rps("iris", BENTONB), ">= 0.90x")
    add("iris: bentonb 1.x / BentoML 1.4, same 1.x code", max(onex[:2]), max(onex[2:]), ">= 5x")
    for s in ("iris", "synthetic", "cifar"):
        a, b = by.get((s, BENTONB)), by.get((s, "BentoML 1.4"))
        add(f"{s}: open-loop p99 bentonb / BentoML", a and a.open_p99_ms, b and b.open_p99_ms,
            "< 1x")
    return rows


def ratio_table(rows: list[dict]) -> str:
    lines = ["| ratio | value | goal |", "|---|---:|---|"]
    lines += [f"| {r['label']} | {r['value']:.2f}x | {r['goal']} |" for r in rows]
    return "\n".join(lines)


def footprint_table(f: Footprint) -> str:
    starts = ", ".join(f"{s:.2f}" for s in f.cold_start_s)
    return "\n".join([
        "| measure | value |", "|---|---:|",
        f"| cold start, `bentonb serve` iris bundle to first `/readyz` 200 (median of "
        f"{len(f.cold_start_s)}: {starts} s) | {f.cold_start_median_s:.2f} s |",
        f"| `import bentonb` (median wall, fresh interpreter) | {f.import_ms:.0f} ms |",
        f"| `python -c pass` (same) | {f.bare_python_ms:.0f} ms |",
        f"| `import sklearn.svm` (same; what loading the iris model imports) | "
        f"{f.framework_import_ms:.0f} ms |",
        f"| cold start less `import sklearn.svm` | "
        f"{f.cold_start_median_s * 1000 - f.framework_import_ms:.0f} ms |",
        f"| RSS after {f.requests_first:,} requests | {f.rss_first_kb / 1024:.1f} MB |",
        f"| RSS after {f.requests_last:,} requests | {f.rss_last_kb / 1024:.1f} MB |",
        f"| RSS ratio (after {f.requests_last:,} / after {f.requests_first:,}) | "
        f"{f.rss_ratio:.3f}x |"])


def plot(results: list[Result], scenario: str, img_dir: Path) -> list[Path]:
    """Two PNGs for ``scenario`` (req/s and p99 against connections); none if < 2 points."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    series = [r for r in results if r.scenario == scenario and len(r.points) > 1]
    if not series:
        return []
    img_dir.mkdir(parents=True, exist_ok=True)
    written = []
    # Log y as well: the HTTP ceiling is an order of magnitude above the CIFAR servers.
    for key, label in (("rps", "requests / s"), ("p99_ms", "p99 latency (ms)")):
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
        for r in series:
            xs = [p.connections for p in r.points if getattr(p, key) is not None]
            ax.plot(xs, [getattr(r.at(x), key) for x in xs], marker="o", label=r.target)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel("concurrent connections (wrk -c)")
        ax.set_ylabel(label)
        ax.set_title(f"{scenario}: {label} against concurrency")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = img_dir / f"sweep_{scenario}_{'throughput' if key == 'rps' else 'p99'}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def results_from_json(path: Path) -> list[Result]:
    """The results of a file write_json wrote (to plot them again)."""
    rows = json.loads(path.read_text())["results"]
    return [Result(**{**r, "points": [Point(**p) for p in r["points"]]}) for r in rows]


def write_json(path: Path, results: list[Result], ceilings: dict, fit: LinearCost | None,
               ratio_rows: list[dict], footprint: Footprint | None, settings: dict,
               pairs: list | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "settings": settings, "cpus": os.cpu_count(),
        "results": [asdict(r) for r in results],
        "ceilings": {k: {"items_per_second": v[0], "batch_size": v[1]}
                     for k, v in ceilings.items()},
        "synthetic_fit": asdict(fit) if fit else None,
        "ratios": ratio_rows,
        "footprint": {**asdict(footprint), "cold_start_median_s": footprint.cold_start_median_s,
                      "rss_ratio": footprint.rss_ratio} if footprint else None,
        "alternating_pairs": [{**asdict(p), "ratios": p.ratios, "median": p.median}
                              for p in pairs or []],
    }, indent=2))
