"""Serving benchmark: bentonb against its ceilings and its peers, on one machine.

    python bench/serving.py [--quick] [--scenarios iris,cifar,synthetic,synthetic16]
                            [--targets "bentonb (batching),LitServe 0.2,..." | 1.x]
                            [--concurrency 1,4,16,64,256] [--duration 5] [--runs 3]

For each workload (see workloads.py) and each target it starts the server,
warms it up and drives it with wrk (one thread) at each number of connections:
one run per point, the median of ``--runs`` at c=64, then an open loop at half
of that peak (latency counted from each request's scheduled send time).
Targets: bentonb with micro-batching, without, and with ``--workers 2`` (iris,
c=64); a bare Tornado handler answering a constant (the HTTP ceiling);
BentoML 1.4.38, LitServe 0.2.19 and MLServer 1.7.1 with their batching on,
each from its own venv under bench/ made on first use (``--no-install``: use
only those that exist; a peer that cannot be installed is reported as such).
The raw model in-process is the model ceiling. Then the served iris bundle's
cold start, ``import bentonb`` time and memory growth (footprint.py).

Writes markdown tables to stdout and bench/results/serving_sweep.md, JSON to
bench/results/serving_sweep.json and PNG plots to docs/img/. ``--quick`` (under
two minutes): iris only, c=1 and 64, 2 s runs, no ``--workers 2``, peers only
if installed, a shorter footprint; its files go to bench/results/ (``*_quick``, ``img/``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import ceilings as ceiling  # noqa: E402
import footprint as footprints  # noqa: E402
import paired  # noqa: E402
import sweep  # noqa: E402
import sweep_report as report  # noqa: E402
import targets  # noqa: E402
from scenarios import scenarios  # noqa: E402

TARGETS = ["bentonb (batching)", "bentonb (no batching)", "bentonb (2 workers)", "tornado echo",
           "BentoML 1.4", "LitServe 0.2", "MLServer 1.7", *targets.ONEX_TARGETS]
# ``--targets 1.x`` (with ``--scenarios iris``): the 1.x API code served by bentonb and
# BentoML 1.4, against the 0.x service and the HTTP ceiling.
PRESETS = {"sweep": TARGETS[:7], "quick": [t for t in TARGETS[:7] if t != "bentonb (2 workers)"],
           "1.x": ["bentonb (batching)", "tornado echo", "BentoML 1.4", *targets.ONEX_TARGETS]}

# Settings of each mode; a flag given on the command line wins.
FULL = {"scenarios": "iris,cifar,synthetic,synthetic16", "targets": "sweep",
        "concurrency": "1,4,16,64,256", "duration": 5.0, "warmup": 2.0, "runs": 3,
        "open_loop": True, "install": True,
        "footprint": True, "cold_starts": 5, "memory_requests": "1000,100000",
        "import_runs": 15, "pairs": 5, "plots": str(HERE.parent / "docs" / "img"),
        "output": "serving_sweep"}
QUICK = {**FULL, "plots": str(HERE / "results" / "img"), "output": "serving_sweep_quick",
         "scenarios": "iris", "targets": "quick", "concurrency": "1,64", "duration": 2.0,
         "warmup": 1.0, "runs": 1, "open_loop": False, "install": False, "cold_starts": 3,
         "memory_requests": "1000,5000", "import_runs": 5, "pairs": 0}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a smoke run in under two minutes")
    p.add_argument("--scenarios", help=f"comma-separated (default {FULL['scenarios']})")
    p.add_argument("--targets", help=f"comma-separated target names ({', '.join(TARGETS)}) "
                                     f"or a preset ({', '.join(PRESETS)}; default: sweep)")
    p.add_argument("--concurrency", help=f"wrk connections (default {FULL['concurrency']})")
    p.add_argument("--duration", type=float, help="seconds per run (default 5; quick 2)")
    p.add_argument("--warmup", type=float, help="seconds of warm-up per target (default 2)")
    p.add_argument("--runs", type=int, help=f"runs at c={sweep.REFERENCE_C} (median; default 3)")
    p.add_argument("--open-loop", action=argparse.BooleanOptionalAction,
                   help="open loop at half the c=64 peak (default on; quick off)")
    p.add_argument("--install", action=argparse.BooleanOptionalAction,
                   help="create missing peer venvs (default on; quick off)")
    p.add_argument("--footprint", action=argparse.BooleanOptionalAction,
                   help="cold start, import time and memory growth (default on)")
    p.add_argument("--cold-starts", type=int)
    p.add_argument("--memory-requests", help="RSS read after N1 and after N2 requests")
    p.add_argument("--import-runs", type=int)
    p.add_argument("--pairs", type=int, help="alternating runs of bentonb and the echo (iris) "
                   "and of bentonb and the model in-process (CIFAR), for the goal ratios; "
                   "0 for none (default 5; quick 0)")
    p.add_argument("--plots", help="folder for the PNG plots, '' for none (default docs/img; "
                                    "quick: bench/results/img)")
    p.add_argument("--output", help="name of the .md/.json in bench/results (default "
                                    "serving_sweep; quick: serving_sweep_quick)")
    p.add_argument("--replot", metavar="JSON", help="only draw the plots of a results file")
    p.add_argument("--ray", action="store_true", help="Ray Serve targets instead (see "
                   "ray_serving.py, which takes its own flags)")
    p.add_argument("--bare-tornado", type=int, help=argparse.SUPPRESS)
    return p


def settle(args: argparse.Namespace) -> argparse.Namespace:
    """Fill what the command line left out from the mode's settings; check the names."""
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.scenario_names = [n for n in args.scenarios.split(",") if n]
    known = scenarios()
    if unknown := [n for n in args.scenario_names if n not in known]:
        sys.exit(f"unknown scenario(s) {unknown}; the scenarios: {list(known)}")
    wanted = PRESETS.get(args.targets) or [t.strip() for t in args.targets.split(",")]
    if unknown := [t for t in wanted if t not in TARGETS]:
        sys.exit(f"unknown target(s) {unknown}; the targets: {TARGETS}, presets: {list(PRESETS)}")
    args.target_names = [t for t in TARGETS if t in wanted]
    args.connections = sorted({int(c) for c in args.concurrency.split(",") if c})
    return args


def run_serving(args: argparse.Namespace) -> int:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")
    began = time.monotonic()
    plan = sweep.Plan(args.connections, args.duration, args.warmup, args.runs, args.open_loop,
                      args.install)
    chosen = scenarios()
    results, ceilings, fit, footprint, pairs = [], {}, None, None, []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["BENTONB_HOME"] = str(workdir / "store")
        bundles = {}
        for name in args.scenario_names:
            scenario = chosen[name]
            bundles[name] = Path(scenario.make_service().save())
            print(f"{name}: the model ceiling ...", flush=True)
            ceilings[name] = ceiling.CEILINGS[name]()
            if name.startswith("synthetic") and fit is None:
                fit = ceiling.synthetic_fit()
            for target in args.target_names:
                points = sweep.points_for(name, target, args.connections)
                if points:
                    print(f"{name}: {target} ...", flush=True)
                    results.append(sweep.measure(target, scenario, bundles[name], plan, workdir,
                                                 points))
                    if results[-1].note:
                        print(f"   {results[-1].note}", flush=True)
        if args.pairs:
            pairs = paired.measure(chosen, bundles, workdir, args.pairs, args.duration)
        if args.footprint:
            iris = chosen["iris"]
            bundle = bundles.get("iris") or Path(iris.make_service().save())
            first, total = (int(n) for n in args.memory_requests.split(","))
            footprint = footprints.measure(bundle, iris.body("bentonb"), workdir,
                                           args.cold_starts, (first, total), args.import_runs)
    ratio_rows = report.ratios(results, ceilings, fit, chosen)
    text = [f"CPU: {os.cpu_count()} cores; wrk -t1 -cN, {args.duration:g} s per point "
            f"({args.runs} runs at c={sweep.REFERENCE_C}, median) after {args.warmup:g} s "
            "warm-up" + ("; open loop at 50% of each server's c=64 peak." if args.open_loop
                         else ".")]
    for name in args.scenario_names:
        if not name.startswith("synthetic"):
            text += [f"\n### {name}\n", report.sweep_table(results, name, args.connections)]
    text += [f"\n### c={sweep.REFERENCE_C}\n", report.reference_table(results, ceilings),
             "", report.ratio_table(ratio_rows)]
    if pairs:
        text += ["", paired.table(pairs)]
    if footprint:
        text += ["", report.footprint_table(footprint)]
    elapsed = time.monotonic() - began
    text.append(f"\n(benchmark wall time: {elapsed / 60:.1f} min)")
    print("\n" + "\n".join(text))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"{args.output}.md").write_text("\n".join(text) + "\n")
    settings = {k: v for k, v in vars(args).items() if k != "bare_tornado"}
    report.write_json(out / f"{args.output}.json", results, ceilings, fit, ratio_rows, footprint,
                      {**settings, "wall_s": elapsed}, pairs)
    if args.plots:
        for name in args.scenario_names:
            for path in report.plot(results, name, Path(args.plots)):
                print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--ray" in argv:
        import ray_serving

        return ray_serving.main(argv)
    args = build_parser().parse_args(argv)
    # Other modes dispatch here, each to its own module, before the default run.
    if args.bare_tornado:
        targets.bare_tornado(args.bare_tornado)
        return 0
    if args.replot:
        results = report.results_from_json(Path(args.replot))
        for name in dict.fromkeys(r.scenario for r in results):
            for path in report.plot(results, name, Path(args.plots or FULL["plots"])):
                print(f"wrote {path}")
        return 0
    return run_serving(settle(args))


if __name__ == "__main__":
    sys.exit(main())
